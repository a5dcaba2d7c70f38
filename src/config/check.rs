//! Semantic checks of tenant files: what the schema cannot say.
//!
//! Numbers are unique within a tenant and DIDs and domains across tenants, every reference
//! resolves, patterns and schedules parse, extension numbers fit the tenant's length and
//! stay clear of emergency numbers, and forwarding does not loop. Every problem is
//! reported, each at the line and column of the value at fault.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use super::diag::{Diagnostic, Locator, Seg, TomlPath};
use super::load::LoadedTenant;
use super::model::*;
use crate::dialplan::EMERGENCY_NUMBERS;
use crate::dialplan::pattern::Pattern;
use crate::dialplan::schedule::ScheduleRules;

/// Checks a set of tenants that will run together. `files_on_disk` also checks that sound
/// files exist next to their tenant file.
pub fn check_tenants(tenants: &[LoadedTenant], files_on_disk: bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for tenant in tenants {
        TenantChecker::new(tenant, files_on_disk, &mut out).run();
    }
    check_across(tenants, &mut out);
    out
}

fn path(kind: &'static str, index: usize, field: &'static str) -> TomlPath {
    vec![Seg::Key(kind), Seg::Index(index), Seg::Key(field)]
}

fn with(mut base: TomlPath, more: impl IntoIterator<Item = Seg>) -> TomlPath {
    base.extend(more);
    base
}

fn tenant_path(field: &'static str) -> TomlPath {
    vec![Seg::Key("tenant"), Seg::Key(field)]
}

fn is_e164(number: &str) -> bool {
    number
        .strip_prefix('+')
        .is_some_and(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
}

fn is_tenant_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !id.starts_with('-')
}

fn is_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_email(email: &str) -> bool {
    email.split_once('@').is_some_and(|(user, host)| !user.is_empty() && is_domain(host))
}

/// Strips the "!" of a negated schedule reference.
fn schedule_name(reference: &str) -> &str {
    reference.strip_prefix('!').unwrap_or(reference)
}

/// Where a number is used in the tenant's dialable namespace.
struct NumberOwner {
    kind: &'static str,
    index: usize,
}

struct TenantChecker<'a> {
    t: &'a LoadedTenant,
    m: &'a TenantFile,
    files_on_disk: bool,
    locator: OnceCell<Locator<'a>>,
    out: &'a mut Vec<Diagnostic>,
    extensions: HashMap<&'a str, usize>,
    groups: HashSet<&'a str>,
    queues: HashSet<&'a str>,
    ivrs: HashSet<&'a str>,
    voicemails: HashSet<&'a str>,
    conferences: HashSet<&'a str>,
    faxes: HashSet<&'a str>,
    schedules: HashSet<&'a str>,
    sounds: HashSet<&'a str>,
    trunks: HashSet<&'a str>,
}

impl<'a> TenantChecker<'a> {
    fn new(t: &'a LoadedTenant, files_on_disk: bool, out: &'a mut Vec<Diagnostic>) -> Self {
        let m = &t.model;
        Self {
            t,
            m,
            files_on_disk,
            locator: OnceCell::new(),
            out,
            extensions: m.extensions.iter().enumerate().map(|(i, e)| (e.number.as_str(), i)).collect(),
            groups: m.extensions.iter().flat_map(|e| e.groups.iter().map(String::as_str)).collect(),
            queues: m.queues.iter().map(|q| q.name.as_str()).collect(),
            ivrs: m.ivrs.iter().map(|i| i.name.as_str()).collect(),
            voicemails: m.voicemails.iter().map(|v| v.number.as_str()).collect(),
            conferences: m.conferences.iter().map(|c| c.number.as_str()).collect(),
            faxes: m.faxes.iter().map(|f| f.number.as_str()).collect(),
            schedules: m.schedules.iter().map(|s| s.name.as_str()).collect(),
            sounds: m.sounds.iter().map(|s| s.name.as_str()).collect(),
            trunks: m.trunks.iter().map(|t| t.name.as_str()).collect(),
        }
    }

    fn error(&mut self, at: TomlPath, message: String, help: impl Into<Option<String>>) {
        let locator = self.locator.get_or_init(|| Locator::new(&self.t.source.file, &self.t.source.text));
        self.out.push(locator.at_path(&at, message, help.into()));
    }

    fn id(&self) -> &'a str {
        &self.t.source.id
    }

    fn run(mut self) {
        self.tenant_settings();
        self.extensions();
        self.numbers();
        self.forward_loops();
        self.dids();
        self.trunks_and_routes();
        self.schedules();
        self.ivrs();
        self.queues();
        self.blacklists();
        self.boxes();
        self.integrations();
        self.unique_names();
    }

    fn tenant_settings(&mut self) {
        let s = &self.m.tenant;
        if !is_tenant_id(self.id()) {
            let id = self.id().to_owned();
            self.error(
                vec![],
                format!("tenant id \"{id}\" (the file name) is not a valid id"),
                "rename the file: lowercase letters, digits, - and _, up to 63".to_owned(),
            );
        }
        if !(2..=4).contains(&s.extension_digits) {
            self.error(
                tenant_path("extension_digits"),
                format!("extension_digits is {}, it must be 2, 3 or 4", s.extension_digits),
                None,
            );
        }
        if s.domains.is_empty() {
            self.error(
                tenant_path("domains"),
                "a tenant needs at least one SIP domain".into(),
                "add domains = [\"pbx.example.com\"]".to_owned(),
            );
        }
        for (i, d) in s.domains.iter().enumerate() {
            if !is_domain(d) {
                self.error(
                    with(tenant_path("domains"), [Seg::Index(i)]),
                    format!("\"{d}\" is not a valid domain name"),
                    None,
                );
            }
        }
        if jiff::tz::TimeZone::get(&s.timezone).is_err() {
            self.error(
                tenant_path("timezone"),
                format!("unknown time zone \"{}\"", s.timezone),
                "use an IANA name such as \"Europe/Berlin\" or \"UTC\"".to_owned(),
            );
        }
        let limits = &s.limits;
        for (field, value) in [
            ("max_calls", limits.max_calls),
            ("calls_per_second", limits.calls_per_second),
            ("calls_per_extension", limits.calls_per_extension),
        ] {
            if value == 0 {
                self.error(
                    vec![Seg::Key("tenant"), Seg::Key("limits"), Seg::Key(field)],
                    format!("limits.{field} is 0: no call could ever be made"),
                    "raise it to at least 1".to_owned(),
                );
            }
        }
    }

    fn extensions(&mut self) {
        let digits = usize::from(self.m.tenant.extension_digits);
        for (i, e) in self.m.extensions.iter().enumerate() {
            if e.number.len() != digits || !e.number.bytes().all(|b| b.is_ascii_digit()) {
                self.error(
                    path("extension", i, "number"),
                    format!("extension number \"{}\" must be {digits} digits (tenant extension_digits)", e.number),
                    None,
                );
            }
            if let SipSecret::Hashes(h) = &e.secret
                && h.ha1.is_none()
                && h.ha1_sha256.is_none()
            {
                self.error(
                    path("extension", i, "secret"),
                    format!("extension {} has an empty secret table", e.number),
                    "run `pbxctl secret hash` and paste ha1 and ha1_sha256".to_owned(),
                );
            }
            if let Some(email) = &e.email
                && !is_email(email)
            {
                self.error(path("extension", i, "email"), format!("\"{email}\" is not an email address"), None);
            }
            if e.missed_call_email && e.email.is_none() {
                self.error(
                    path("extension", i, "missed_call_email"),
                    format!("extension {} wants missed-call emails but has no email", e.number),
                    "add email = \"…\"".to_owned(),
                );
            }
            if let Some(cid) = &e.caller_id
                && !is_e164(&cid.number)
            {
                self.error(
                    with(path("extension", i, "caller_id"), [Seg::Key("number")]),
                    format!("caller ID \"{}\" is not an E.164 number", cid.number),
                    "write it like \"+4930123456\"".to_owned(),
                );
            }
            if let Some(vm) = &e.voicemail
                && !self.voicemails.contains(vm.as_str())
            {
                self.error(
                    path("extension", i, "voicemail"),
                    format!("extension {} uses voicemail box \"{vm}\", which does not exist", e.number),
                    format!("add [[voicemail]] number = \"{vm}\""),
                );
            }
            for (perm, targets) in e.may.all() {
                for (j, target) in targets.iter().enumerate() {
                    if let Some(message) = self.target_problem(target) {
                        self.error(
                            with(path("extension", i, "may"), [Seg::Key(perm), Seg::Index(j)]),
                            message,
                            "write \"extension:NUMBER\" or \"group:NAME\" of this tenant".to_owned(),
                        );
                    }
                }
            }
            if e.dial.contains(&CallClass::International) && !self.m.tenant.international {
                self.error(
                    path("extension", i, "dial"),
                    format!(
                        "extension {} may dial international numbers, but the tenant does not allow them",
                        e.number
                    ),
                    "set international = true in [tenant], or remove \"international\"".to_owned(),
                );
            }
            for (j, rule) in e.forward.iter().enumerate() {
                let rule_path = with(path("extension", i, "forward"), [Seg::Index(j)]);
                if rule.after.is_some() && rule.when != ForwardWhen::NoAnswer {
                    self.error(
                        with(rule_path.clone(), [Seg::Key("after")]),
                        "`after` only applies to when = \"no_answer\"".into(),
                        None,
                    );
                }
                if let Some(s) = &rule.schedule {
                    self.schedule_ref(s, with(rule_path.clone(), [Seg::Key("schedule")]));
                }
                if rule.to == Destination::Extension(e.number.clone()) {
                    self.error(
                        with(rule_path.clone(), [Seg::Key("to")]),
                        format!("extension {} forwards to itself", e.number),
                        None,
                    );
                }
                self.destination(&rule.to, with(rule_path, [Seg::Key("to")]));
            }
            for (j, bound) in e.also_ring.iter().enumerate() {
                if !is_e164(&bound.number) {
                    self.error(
                        with(path("extension", i, "also_ring"), [Seg::Index(j), Seg::Key("number")]),
                        format!("\"{}\" is not an E.164 number", bound.number),
                        "write it like \"+4915112345678\"".to_owned(),
                    );
                }
            }
            if e.max_calls == Some(0) {
                self.error(
                    path("extension", i, "max_calls"),
                    "max_calls is 0: the extension could never call".into(),
                    None,
                );
            }
        }
    }

    fn target_problem(&self, target: &str) -> Option<String> {
        match target.split_once(':') {
            Some(("extension", n)) if self.extensions.contains_key(n) => None,
            Some(("extension", n)) => Some(format!("extension \"{n}\" does not exist")),
            Some(("group", g)) if self.groups.contains(g) => None,
            Some(("group", g)) => Some(format!("no extension is in group \"{g}\"")),
            _ => Some(format!("\"{target}\" is not a permission target")),
        }
    }

    fn schedule_ref(&mut self, reference: &str, at: TomlPath) {
        let name = schedule_name(reference);
        if !self.schedules.contains(name) {
            self.error(
                at,
                format!("schedule \"{name}\" does not exist"),
                format!("add [[schedule]] name = \"{name}\""),
            );
        }
    }

    fn sound_ref(&mut self, sound: &SoundRef, at: TomlPath) {
        if !self.sounds.contains(sound.0.as_str()) {
            self.error(
                at,
                format!("sound \"{}\" does not exist", sound.0),
                format!("add [[sound]] name = \"{}\" with its file", sound.0),
            );
        }
    }

    fn pattern(&mut self, text: &str, at: TomlPath) {
        if let Err(message) = text.parse::<Pattern>() {
            self.error(at, message, "see the pattern syntax in the README (X, Z, N, [1-5], . and !)".to_owned());
        }
    }

    fn destination(&mut self, to: &Destination, at: TomlPath) {
        let (exists, add) = match to {
            Destination::Extension(n) => {
                (self.extensions.contains_key(n.as_str()), format!("[[extension]] number = \"{n}\""))
            }
            Destination::Queue(n) => (self.queues.contains(n.as_str()), format!("[[queue]] name = \"{n}\"")),
            Destination::Ivr(n) => (self.ivrs.contains(n.as_str()), format!("[[ivr]] name = \"{n}\"")),
            Destination::Voicemail(n) => {
                (self.voicemails.contains(n.as_str()), format!("[[voicemail]] number = \"{n}\""))
            }
            Destination::Conference(n) => {
                (self.conferences.contains(n.as_str()), format!("[[conference]] number = \"{n}\""))
            }
            Destination::Fax(n) => (self.faxes.contains(n.as_str()), format!("[[fax]] number = \"{n}\"")),
            Destination::Number(_) | Destination::Hangup => (true, String::new()),
        };
        if !exists {
            self.error(
                at,
                format!("{to} does not exist in tenant {}", self.id()),
                format!("add {add}, or point elsewhere"),
            );
        }
    }

    /// Extensions, queues, conferences and fax boxes share one dialable namespace.
    fn numbers(&mut self) {
        let mut owners: HashMap<&str, NumberOwner> = HashMap::new();
        let m = self.m;
        let numbered = m
            .extensions
            .iter()
            .enumerate()
            .map(|(i, e)| ("extension", i, e.number.as_str()))
            .chain(m.queues.iter().enumerate().filter_map(|(i, q)| q.number.as_deref().map(|n| ("queue", i, n))))
            .chain(m.conferences.iter().enumerate().map(|(i, c)| ("conference", i, c.number.as_str())))
            .chain(m.faxes.iter().enumerate().map(|(i, f)| ("fax", i, f.number.as_str())));
        for (kind, index, number) in numbered {
            let field = "number";
            if kind != "extension"
                && (number.is_empty() || number.len() > 8 || !number.bytes().all(|b| b.is_ascii_digit()))
            {
                self.error(path(kind, index, field), format!("{kind} number \"{number}\" must be 1 to 8 digits"), None);
            }
            if EMERGENCY_NUMBERS.contains(&number) {
                self.error(
                    path(kind, index, field),
                    format!("{kind} number \"{number}\" collides with the emergency number {number}"),
                    "choose another number; emergency numbers always reach emergency routes".to_owned(),
                );
            }
            match owners.get(number) {
                Some(first) => {
                    let message = format!(
                        "number \"{number}\" is already used by {} #{} of this tenant",
                        first.kind,
                        first.index + 1
                    );
                    self.error(
                        path(kind, index, field),
                        message,
                        "numbers of extensions, queues, conferences and fax boxes must be unique".to_owned(),
                    );
                }
                None => {
                    owners.insert(number, NumberOwner { kind, index });
                }
            }
        }
    }

    /// Unconditional forwards must not form a cycle: the call would never ring anywhere.
    fn forward_loops(&mut self) {
        let m = self.m;
        let next = |number: &str| -> Vec<(usize, &str)> {
            self.extensions.get(number).map_or_else(Vec::new, |&i| {
                m.extensions[i]
                    .forward
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.when == ForwardWhen::Always)
                    .filter_map(|(j, r)| match &r.to {
                        Destination::Extension(n) => Some((j, n.as_str())),
                        _ => None,
                    })
                    .collect()
            })
        };
        let mut reported: HashSet<Vec<&str>> = HashSet::new();
        let mut loops = Vec::new();
        for start in m.extensions.iter().map(|e| e.number.as_str()) {
            // Depth-first walk of the forwarding chain from `start`, looking for a way back.
            let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, vec![start])];
            while let Some((at, trail)) = stack.pop() {
                for (_, to) in next(at) {
                    if to == start && trail.len() > 1 {
                        let mut cycle = trail.clone();
                        cycle.sort_unstable();
                        if reported.insert(cycle) {
                            loops.push(trail.clone());
                        }
                    } else if !trail.contains(&to) {
                        let mut longer = trail.clone();
                        longer.push(to);
                        stack.push((to, longer));
                    }
                }
            }
        }
        let problems: Vec<(usize, usize, String)> = loops
            .into_iter()
            .map(|trail| {
                let first = trail[0];
                let j = next(first).iter().find(|(_, to)| *to == trail[1]).map_or(0, |(j, _)| *j);
                let chain = trail.iter().chain(std::iter::once(&first)).copied().collect::<Vec<_>>().join(" -> ");
                (self.extensions[first], j, chain)
            })
            .collect();
        for (i, j, chain) in problems {
            self.error(
                with(path("extension", i, "forward"), [Seg::Index(j), Seg::Key("to")]),
                format!("forwarding loop: {chain}"),
                "remove one of the \"always\" forwards".to_owned(),
            );
        }
    }

    fn dids(&mut self) {
        for (i, did) in self.m.dids.iter().enumerate() {
            if !is_e164(&did.number) {
                self.error(
                    path("did", i, "number"),
                    format!("DID \"{}\" is not an E.164 number", did.number),
                    "write it like \"+4930123456\"".to_owned(),
                );
            }
            self.destination(&did.to, path("did", i, "to"));
            for (j, rule) in did.when.iter().enumerate() {
                let at = with(path("did", i, "when"), [Seg::Index(j)]);
                self.schedule_ref(&rule.schedule, with(at.clone(), [Seg::Key("schedule")]));
                self.destination(&rule.to, with(at, [Seg::Key("to")]));
            }
        }
    }

    fn trunks_and_routes(&mut self) {
        for (i, trunk) in self.m.trunks.iter().enumerate() {
            if trunk.host.is_empty() || trunk.host.contains(char::is_whitespace) {
                self.error(path("trunk", i, "host"), format!("trunk \"{}\" has no valid host", trunk.name), None);
            }
            for (j, source) in trunk.inbound.sources.iter().enumerate() {
                if parse_network(source).is_none() {
                    self.error(
                        with(path("trunk", i, "inbound"), [Seg::Key("sources"), Seg::Index(j)]),
                        format!("\"{source}\" is not an IP address or network"),
                        "write \"192.0.2.10\" or \"198.51.100.0/24\"".to_owned(),
                    );
                }
            }
            if trunk.register.is_none() && trunk.inbound.sources.is_empty() {
                self.error(
                    path("trunk", i, "name"),
                    format!(
                        "trunk \"{}\" can never receive calls: it neither registers nor lists inbound sources",
                        trunk.name
                    ),
                    "add register = { … } or inbound = { sources = [\"…\"] }".to_owned(),
                );
            }
            if trunk.codecs.iter().all(|c| *c == Codec::TelephoneEvent) {
                self.error(
                    path("trunk", i, "codecs"),
                    format!("trunk \"{}\" offers no audio codec", trunk.name),
                    "add \"pcma\" or \"pcmu\"".to_owned(),
                );
            }
            if let Some(cid) = &trunk.caller_id {
                if !is_e164(&cid.default) {
                    self.error(
                        with(path("trunk", i, "caller_id"), [Seg::Key("default")]),
                        format!("caller ID \"{}\" is not an E.164 number", cid.default),
                        None,
                    );
                }
                for (j, p) in cid.allow.iter().enumerate() {
                    self.pattern(p, with(path("trunk", i, "caller_id"), [Seg::Key("allow"), Seg::Index(j)]));
                }
            }
        }
        for (i, route) in self.m.routes.iter().enumerate() {
            if route.patterns.is_empty() {
                self.error(path("route", i, "patterns"), format!("route \"{}\" has no patterns", route.name), None);
            }
            for (j, p) in route.patterns.iter().enumerate() {
                self.pattern(p, with(path("route", i, "patterns"), [Seg::Index(j)]));
            }
            if route.trunks.is_empty() {
                self.error(path("route", i, "trunks"), format!("route \"{}\" has no trunks", route.name), None);
            }
            for (j, trunk) in route.trunks.iter().enumerate() {
                if !self.trunks.contains(trunk.as_str()) {
                    self.error(
                        with(path("route", i, "trunks"), [Seg::Index(j)]),
                        format!("trunk \"{trunk}\" does not exist"),
                        format!("add [[trunk]] name = \"{trunk}\""),
                    );
                }
            }
        }
    }

    fn schedules(&mut self) {
        for (i, schedule) in self.m.schedules.iter().enumerate() {
            if let Err(errors) = ScheduleRules::parse(schedule, &self.m.tenant.timezone) {
                for e in errors {
                    let at = if e.field == "timezone" {
                        path("schedule", i, "timezone")
                    } else {
                        with(path("schedule", i, e.field), [Seg::Index(e.index)])
                    };
                    self.error(at, e.message, None);
                }
            }
        }
    }

    fn ivrs(&mut self) {
        for (i, ivr) in self.m.ivrs.iter().enumerate() {
            self.sound_ref(&ivr.prompt, path("ivr", i, "prompt"));
            for (j, cond) in ivr.when.iter().enumerate() {
                let at = with(path("ivr", i, "when"), [Seg::Index(j)]);
                if cond.schedule.is_none() && cond.caller.is_none() && cond.called.is_none() {
                    self.error(
                        at.clone(),
                        format!("condition {} of IVR \"{}\" tests nothing", j + 1, ivr.name),
                        "add schedule, caller or called".to_owned(),
                    );
                }
                if let Some(s) = &cond.schedule {
                    self.schedule_ref(s, with(at.clone(), [Seg::Key("schedule")]));
                }
                for (field, p) in [("caller", &cond.caller), ("called", &cond.called)] {
                    if let Some(p) = p {
                        self.pattern(p, with(at.clone(), [Seg::Key(field)]));
                    }
                }
                self.destination(&cond.to, with(at, [Seg::Key("to")]));
            }
            for (key, to) in &ivr.options {
                let at = with(path("ivr", i, "options"), [Seg::Name(key.clone())]);
                if !matches!(key.as_bytes(), [b'0'..=b'9' | b'*' | b'#']) {
                    self.error(
                        at.clone(),
                        format!("IVR option \"{key}\" is not a single key"),
                        "use one of 0-9, * or #".to_owned(),
                    );
                }
                self.destination(to, at);
            }
            for (field, fallback) in [("timeout", &ivr.timeout), ("invalid", &ivr.invalid)] {
                if let Some(f) = fallback {
                    if let Some(p) = &f.prompt {
                        self.sound_ref(p, with(path("ivr", i, field), [Seg::Key("prompt")]));
                    }
                    self.destination(&f.to, with(path("ivr", i, field), [Seg::Key("to")]));
                }
            }
            if let Some(hook) = &ivr.webhook {
                if !is_http_url(&hook.url) {
                    self.error(
                        with(path("ivr", i, "webhook"), [Seg::Key("url")]),
                        format!("\"{}\" is not an http(s) URL", hook.url),
                        None,
                    );
                }
                self.destination(&hook.fallback, with(path("ivr", i, "webhook"), [Seg::Key("fallback")]));
            }
        }
    }

    fn queues(&mut self) {
        for (i, q) in self.m.queues.iter().enumerate() {
            if q.members.is_empty() {
                self.error(path("queue", i, "members"), format!("queue \"{}\" has no members", q.name), None);
            }
            let mut seen = HashSet::new();
            for (j, member) in q.members.iter().enumerate() {
                let at = with(path("queue", i, "members"), [Seg::Index(j)]);
                if !self.extensions.contains_key(member.extension.as_str()) {
                    self.error(
                        at.clone(),
                        format!(
                            "queue \"{}\" member \"{}\" is not an extension of tenant {}",
                            q.name,
                            member.extension,
                            self.id()
                        ),
                        format!("add [[extension]] number = \"{}\", or remove it from the queue", member.extension),
                    );
                }
                if !seen.insert(member.extension.as_str()) {
                    self.error(at, format!("queue \"{}\" lists member \"{}\" twice", q.name, member.extension), None);
                }
            }
            if let Some(moh) = &q.moh {
                self.sound_ref(moh, path("queue", i, "moh"));
            }
            if let Some(prompt) = q.announce.as_ref().and_then(|a| a.prompt.as_ref()) {
                self.sound_ref(prompt, with(path("queue", i, "announce"), [Seg::Key("prompt")]));
            }
            if let Some(overflow) = &q.max_wait {
                self.destination(&overflow.to, with(path("queue", i, "max_wait"), [Seg::Key("to")]));
            }
            if let Some(survey) = &q.survey {
                self.sound_ref(&survey.prompt, with(path("queue", i, "survey"), [Seg::Key("prompt")]));
                if !(1..=9).contains(&survey.scale) {
                    self.error(
                        with(path("queue", i, "survey"), [Seg::Key("scale")]),
                        format!("survey scale {} must be 1 to 9", survey.scale),
                        None,
                    );
                }
            }
            if let Some(exit) = &q.exit {
                if !matches!(exit.digit.as_bytes(), [b'0'..=b'9' | b'*' | b'#']) {
                    self.error(
                        with(path("queue", i, "exit"), [Seg::Key("digit")]),
                        format!("exit key \"{}\" is not a single key", exit.digit),
                        None,
                    );
                }
                self.destination(&exit.to, with(path("queue", i, "exit"), [Seg::Key("to")]));
            }
        }
    }

    fn blacklists(&mut self) {
        for (i, b) in self.m.blacklists.iter().enumerate() {
            for (j, n) in b.numbers.iter().enumerate() {
                if n != "anonymous" {
                    self.pattern(n, with(path("blacklist", i, "numbers"), [Seg::Index(j)]));
                }
            }
            match (&b.action, &b.prompt) {
                (BlockAction::Prompt, None) => self.error(
                    path("blacklist", i, "action"),
                    "action \"prompt\" needs a prompt".into(),
                    "add prompt = \"sound:NAME\"".to_owned(),
                ),
                (_, Some(p)) => self.sound_ref(p, path("blacklist", i, "prompt")),
                _ => {}
            }
        }
    }

    fn boxes(&mut self) {
        for (i, v) in self.m.voicemails.iter().enumerate() {
            if let Some(g) = &v.greeting {
                self.sound_ref(g, path("voicemail", i, "greeting"));
            }
            if let Some(email) = &v.email
                && !is_email(email)
            {
                self.error(path("voicemail", i, "email"), format!("\"{email}\" is not an email address"), None);
            }
            if v.attach_audio && v.email.is_none() {
                self.error(
                    path("voicemail", i, "attach_audio"),
                    "attach_audio needs an email to attach to".into(),
                    None,
                );
            }
        }
        for (i, f) in self.m.faxes.iter().enumerate() {
            if !is_email(&f.email) {
                self.error(path("fax", i, "email"), format!("\"{}\" is not an email address", f.email), None);
            }
        }
        for (i, c) in self.m.conferences.iter().enumerate() {
            if c.max_members < 2 {
                self.error(
                    path("conference", i, "max_members"),
                    "a conference needs room for at least 2 members".into(),
                    None,
                );
            }
        }
        for (i, sound) in self.m.sounds.iter().enumerate() {
            let file = std::path::Path::new(&sound.file);
            if file.is_absolute() || file.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                self.error(
                    path("sound", i, "file"),
                    format!("sound file \"{}\" must be a path inside the tenant's directory", sound.file),
                    "write it relative to the tenant file, without ..".to_owned(),
                );
            } else if self.files_on_disk
                && let Some(dir) = &self.t.source.dir
                && !dir.join(file).is_file()
            {
                self.error(
                    path("sound", i, "file"),
                    format!("sound file \"{}\" does not exist", sound.file),
                    format!("put it at {}", dir.join(file).display()),
                );
            }
        }
    }

    fn integrations(&mut self) {
        for (i, email) in self.m.notifications.low_disk.iter().enumerate() {
            if !is_email(email) {
                self.error(
                    vec![Seg::Key("notifications"), Seg::Key("low_disk"), Seg::Index(i)],
                    format!("\"{email}\" is not an email address"),
                    None,
                );
            }
        }
        for (i, hook) in self.m.webhooks.iter().enumerate() {
            if !is_http_url(&hook.url) {
                self.error(path("webhook", i, "url"), format!("\"{}\" is not an http(s) URL", hook.url), None);
            }
        }
        for (i, user) in self.m.api_users.iter().enumerate() {
            match (user.role, &user.extension) {
                (ApiRole::Employee, None) => self.error(
                    path("api_user", i, "role"),
                    format!("employee \"{}\" is not bound to an extension", user.name),
                    "add extension = \"NUMBER\"".to_owned(),
                ),
                (ApiRole::Employee, Some(n)) if !self.extensions.contains_key(n.as_str()) => {
                    self.error(path("api_user", i, "extension"), format!("extension \"{n}\" does not exist"), None)
                }
                (ApiRole::TenantAdmin, Some(_)) => self.error(
                    path("api_user", i, "extension"),
                    format!("tenant admin \"{}\" sees the whole tenant; `extension` is for employees", user.name),
                    "remove extension, or set role = \"employee\"".to_owned(),
                ),
                _ => {}
            }
        }
        let mut tokens = HashSet::new();
        for (i, user) in self.m.api_users.iter().enumerate() {
            if !tokens.insert(&user.token_sha256.0) {
                self.error(
                    path("api_user", i, "token_sha256"),
                    format!("API user \"{}\" shares its token with another user", user.name),
                    "make a token per user with `pbxctl secret token`".to_owned(),
                );
            }
        }
    }

    /// Names and box numbers that other objects refer to must be unique per kind.
    fn unique_names(&mut self) {
        let m = self.m;
        let lists: [(&'static str, &'static str, Vec<&str>); 11] = [
            ("trunk", "name", m.trunks.iter().map(|x| x.name.as_str()).collect()),
            ("route", "name", m.routes.iter().map(|x| x.name.as_str()).collect()),
            ("schedule", "name", m.schedules.iter().map(|x| x.name.as_str()).collect()),
            ("ivr", "name", m.ivrs.iter().map(|x| x.name.as_str()).collect()),
            ("queue", "name", m.queues.iter().map(|x| x.name.as_str()).collect()),
            ("blacklist", "name", m.blacklists.iter().map(|x| x.name.as_str()).collect()),
            ("voicemail", "number", m.voicemails.iter().map(|x| x.number.as_str()).collect()),
            ("sound", "name", m.sounds.iter().map(|x| x.name.as_str()).collect()),
            ("webhook", "name", m.webhooks.iter().map(|x| x.name.as_str()).collect()),
            ("api_user", "name", m.api_users.iter().map(|x| x.name.as_str()).collect()),
            ("did", "number", m.dids.iter().map(|x| x.number.as_str()).collect()),
        ];
        for (kind, field, names) in lists {
            let mut seen = HashSet::new();
            for (i, name) in names.into_iter().enumerate() {
                if name.is_empty() {
                    self.error(path(kind, i, field), format!("{kind} {field} is empty"), None);
                } else if !seen.insert(name) {
                    self.error(
                        path(kind, i, field),
                        format!("{kind} {field} \"{name}\" is used twice in this tenant"),
                        None,
                    );
                }
            }
        }
    }
}

fn is_http_url(url: &str) -> bool {
    url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).is_some_and(|rest| !rest.is_empty())
}

/// An address "192.0.2.1", "2001:db8::1" or a network "198.51.100.0/24".
pub fn parse_network(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, bits) = match text.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

/// DIDs and domains must be unique across all tenants of a node.
fn check_across(tenants: &[LoadedTenant], out: &mut Vec<Diagnostic>) {
    let mut dids: HashMap<&str, &str> = HashMap::new();
    let mut domains: HashMap<String, &str> = HashMap::new();
    for t in tenants {
        let locator = OnceCell::new();
        let mut report = |at: TomlPath, message: String, help: String| {
            let locator = locator.get_or_init(|| Locator::new(&t.source.file, &t.source.text));
            out.push(locator.at_path(&at, message, Some(help)));
        };
        for (i, did) in t.model.dids.iter().enumerate() {
            match dids.get(did.number.as_str()) {
                Some(owner) if *owner != t.source.id => report(
                    path("did", i, "number"),
                    format!("DID {} is already a number of tenant {owner}", did.number),
                    "a DID belongs to exactly one tenant".to_owned(),
                ),
                _ => {
                    dids.insert(&did.number, &t.source.id);
                }
            }
        }
        for (i, domain) in t.model.tenant.domains.iter().enumerate() {
            match domains.get(&domain.to_ascii_lowercase()) {
                Some(owner) if *owner != t.source.id => report(
                    with(tenant_path("domains"), [Seg::Index(i)]),
                    format!("domain {domain} is already a domain of tenant {owner}"),
                    "each SIP domain belongs to exactly one tenant".to_owned(),
                ),
                _ => {
                    domains.insert(domain.to_ascii_lowercase(), &t.source.id);
                }
            }
        }
    }
}
