pub mod apply;
pub mod calls;
pub mod get;
pub mod schema;
pub mod secret;
pub mod trunks;
pub mod validate;
