//! URI parsing and unescaping must never panic; a parsed URI prints as its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbx::sip::msg::{Uri, unescape};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(u) = Uri::parse(s) {
        assert_eq!(u.to_string(), s);
        if let Some(sip) = u.as_sip() {
            let _ = sip.user_unescaped();
            let _ = sip.params().iter().count();
        }
    }
    let _ = unescape(s);
});
