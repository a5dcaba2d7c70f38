//! Number classification and routing. For now: the dial pattern syntax and schedules,
//! which the tenant checks use; the router arrives with calls.

pub mod pattern;
pub mod schedule;

/// Emergency numbers, which no extension, queue, conference or fax box may take.
pub const EMERGENCY_NUMBERS: &[&str] = &["110", "112", "911", "999", "000"];

/// Feature codes dialled from extensions. They start with `*`, so they cannot collide with
/// an all-digit extension number; the table is here so plans and docs can list them.
pub const FEATURE_CODES: &[(&str, &str)] = &[
    ("*8", "pick up a ringing call of your pickup groups"),
    ("*97", "your voicemail"),
    ("*98", "any voicemail box"),
    ("*1", "start or stop recording (record = \"on_demand\")"),
    ("*2", "monitor an extension: *2 then its number"),
    ("*3", "whisper to an extension: *3 then its number"),
    ("*4", "barge in on an extension: *4 then its number"),
    ("*5", "intercept an answered call: *5 then its number"),
    ("*70", "park the call"),
];
