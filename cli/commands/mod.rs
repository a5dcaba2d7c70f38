pub mod apply;
pub mod get;
pub mod schema;
pub mod secret;
pub mod validate;
