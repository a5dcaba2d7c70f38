//! `pbxctl schema`: JSON Schemas for editors, generated from the Rust model.

use std::path::Path;

use crate::exit;

pub fn run(out: &Path) -> u8 {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(out)?;
        for (name, text) in pbx::config::schemas() {
            std::fs::write(out.join(name), text)?;
        }
        Ok(())
    };
    match write() {
        Ok(()) => {
            println!("schemas written to {}", out.display());
            0
        }
        Err(e) => {
            eprintln!("error: cannot write schemas to {}: {e}", out.display());
            exit::INVALID
        }
    }
}
