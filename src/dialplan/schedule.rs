//! Schedules: weekly time ranges and date ranges in a time zone, minus holidays.
//!
//! Parsed once when a tenant is loaded; `is_active` takes the instant to check, so
//! routing decisions are tested with any clock.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::config::model::Schedule;

/// One weekly range: a set of days and minutes since midnight, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WeeklyRange {
    /// Bit 0 is Monday.
    days: u8,
    start: u16,
    end: u16,
}

/// A schedule ready to answer "is it active now?".
#[derive(Debug, Clone)]
pub struct ScheduleRules {
    tz: TimeZone,
    weekly: Vec<WeeklyRange>,
    dates: Vec<(Date, Date)>,
    holidays: Vec<Date>,
}

/// A problem in one entry of a schedule: which list, which index, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub field: &'static str,
    pub index: usize,
    pub message: String,
}

impl ScheduleRules {
    /// Parses a schedule; `default_tz` is the tenant's time zone name. Reports every bad entry.
    pub fn parse(schedule: &Schedule, default_tz: &str) -> Result<Self, Vec<ScheduleError>> {
        let mut errors = Vec::new();
        let tz_name = schedule.timezone.as_deref().unwrap_or(default_tz);
        let tz = TimeZone::get(tz_name).unwrap_or_else(|_| {
            errors.push(ScheduleError {
                field: "timezone",
                index: 0,
                message: format!("unknown time zone \"{tz_name}\""),
            });
            TimeZone::UTC
        });
        let mut collect = |field: &'static str, items: &[String], parse: &dyn Fn(&str) -> Result<(), String>| {
            for (index, item) in items.iter().enumerate() {
                if let Err(message) = parse(item) {
                    errors.push(ScheduleError { field, index, message });
                }
            }
        };
        collect("weekly", &schedule.weekly, &|s| parse_weekly(s).map(drop));
        collect("dates", &schedule.dates, &|s| parse_date_range(s).map(drop));
        collect("holidays", &schedule.holidays, &|s| parse_date(s).map(drop));
        if schedule.weekly.is_empty() && schedule.dates.is_empty() {
            errors.push(ScheduleError {
                field: "weekly",
                index: 0,
                message: format!(
                    "schedule \"{}\" is never active: it has no weekly ranges and no dates",
                    schedule.name
                ),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Every entry parsed above, so these unwrap-free collections are complete.
        Ok(Self {
            tz,
            weekly: schedule.weekly.iter().filter_map(|s| parse_weekly(s).ok()).collect(),
            dates: schedule.dates.iter().filter_map(|s| parse_date_range(s).ok()).collect(),
            holidays: schedule.holidays.iter().filter_map(|s| parse_date(s).ok()).collect(),
        })
    }

    /// Whether the schedule is active at `at`.
    pub fn is_active(&self, at: Timestamp) -> bool {
        let local = at.to_zoned_datetime(self.tz.clone());
        let date = local.date();
        if self.holidays.contains(&date) {
            return false;
        }
        if self.dates.iter().any(|(from, to)| (*from..=*to).contains(&date)) {
            return true;
        }
        let day_bit = 1u8 << local.weekday().to_monday_zero_offset();
        let minute = local.hour() as u16 * 60 + local.minute() as u16; // both are non-negative
        self.weekly.iter().any(|r| r.days & day_bit != 0 && (r.start..r.end).contains(&minute))
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(name: &str) -> Result<u8, String> {
    DAY_NAMES
        .iter()
        .position(|d| *d == name)
        .map(|i| i as u8)
        .ok_or_else(|| format!("unknown day \"{name}\": use mon, tue, wed, thu, fri, sat, sun"))
}

/// "mon-fri 08:00-18:00", "sat,sun 10:00-14:00", "mon-sun 00:00-24:00".
fn parse_weekly(text: &str) -> Result<WeeklyRange, String> {
    let (days_text, times) = text
        .split_once(' ')
        .ok_or_else(|| format!("invalid weekly range \"{text}\": write it like \"mon-fri 08:00-18:00\""))?;
    let mut days = 0u8;
    for part in days_text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day_index(from)?, day_index(to)?);
                if to < from {
                    return Err(format!("day range \"{part}\" runs backwards: write it Monday first, like mon-fri"));
                }
                for d in from..=to {
                    days |= 1 << d;
                }
            }
            None => days |= 1 << day_index(part)?,
        }
    }
    let (start, end) = times
        .trim()
        .split_once('-')
        .ok_or_else(|| format!("invalid time range \"{times}\": write it like 08:00-18:00"))?;
    let (start, end) = (parse_minute(start)?, parse_minute(end)?);
    if end <= start {
        return Err(format!(
            "time range \"{times}\" ends before it starts; split ranges over midnight in two, like 22:00-24:00 and 00:00-06:00"
        ));
    }
    Ok(WeeklyRange { days, start, end })
}

fn parse_minute(text: &str) -> Result<u16, String> {
    let bad = || format!("invalid time \"{text}\": write HH:MM from 00:00 to 24:00");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_date(text: &str) -> Result<Date, String> {
    text.parse::<Date>().map_err(|_| format!("invalid date \"{text}\": write YYYY-MM-DD"))
}

/// "2026-12-24" or "2026-12-24..2026-12-31".
fn parse_date_range(text: &str) -> Result<(Date, Date), String> {
    let (from, to) = match text.split_once("..") {
        Some((from, to)) => (parse_date(from)?, parse_date(to)?),
        None => {
            let d = parse_date(text)?;
            (d, d)
        }
    };
    if to < from {
        return Err(format!("date range \"{text}\" ends before it starts"));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(weekly: &[&str], dates: &[&str], holidays: &[&str]) -> Schedule {
        Schedule {
            name: "s".into(),
            timezone: None,
            weekly: weekly.iter().map(|s| s.to_string()).collect(),
            dates: dates.iter().map(|s| s.to_string()).collect(),
            holidays: holidays.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn business_hours_in_berlin() {
        let rules = ScheduleRules::parse(
            &schedule(&["mon-fri 08:00-18:00", "sat 10:00-14:00"], &[], &["2026-12-25"]),
            "Europe/Berlin",
        )
        .unwrap();
        // Thursday 2026-11-26 08:30 Berlin = 07:30 UTC.
        assert!(rules.is_active(at("2026-11-26T07:30:00Z")));
        assert!(!rules.is_active(at("2026-11-26T06:30:00Z")));
        assert!(!rules.is_active(at("2026-11-26T17:00:00Z")), "18:00 Berlin is closed");
        // Saturday 11:00 Berlin.
        assert!(rules.is_active(at("2026-11-28T10:00:00Z")));
        assert!(!rules.is_active(at("2026-11-29T10:00:00Z")), "Sunday");
        // Friday 2026-12-25 is a holiday.
        assert!(!rules.is_active(at("2026-12-25T10:00:00Z")));
    }

    #[test]
    fn date_ranges_are_whole_days() {
        let rules = ScheduleRules::parse(&schedule(&[], &["2026-12-27..2026-12-30"], &[]), "UTC").unwrap();
        assert!(rules.is_active(at("2026-12-27T00:00:00Z")));
        assert!(rules.is_active(at("2026-12-30T23:59:00Z")));
        assert!(!rules.is_active(at("2026-12-31T00:00:00Z")));
    }

    #[test]
    fn every_bad_entry_is_reported() {
        let errors = ScheduleRules::parse(
            &schedule(
                &["mon-fri 08:00-18:00", "fri-mon 08:00-18:00", "mon 25:00-26:00", "funday 08:00-09:00"],
                &["2026-13-01"],
                &["tomorrow"],
            ),
            "UTC",
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.field, e.index)).collect();
        assert_eq!(fields, [("weekly", 1), ("weekly", 2), ("weekly", 3), ("dates", 0), ("holidays", 0)]);
        assert!(ScheduleRules::parse(&schedule(&[], &[], &[]), "UTC").is_err());
        assert!(ScheduleRules::parse(&schedule(&["mon 08:00-09:00"], &[], &[]), "Mars/Base").is_err());
    }
}
