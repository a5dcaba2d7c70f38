//! Calls: pbxd as a B2BUA between extensions, with media anchored in the relay.
//!
//! Why it exists: a PBX must own each call end to end — who rings, who answered, how long,
//! which media — to enforce limits, write the CDR, and later run transfers, queues and
//! recordings. A proxy would only watch.
//!
//! How it works: the SIP core authenticates and routes a new INVITE, then starts a call
//! [`actor`]: one tokio task per call, owning a [`machine::Call`] (A-leg, forks, B-leg,
//! relay session). The core keeps a registry (Call-ID and tags → call) and passes each
//! call its requests, ACKs and responses; the task sends back what the machine wants sent.
//! A panic in one call ends that task only. The machine is sans-IO, so every timer path is
//! tested in virtual time. When the call ends its CDR goes to the [`cdr`] writer and its
//! [`limits`] guards are dropped.

pub mod actor;
pub mod cdr;
pub mod dialog;
pub mod limits;
pub mod machine;
pub mod media;
pub mod recordings;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::media::record::Recorder;
use crate::media::relay::Relay;
use crate::sip::msg::Message;
use crate::sip::transport::Source;
use crate::sip::txn::TxnKey;

/// Which leg of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The caller's.
    A,
    /// The callee's (the winning fork).
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// One end of a call: an extension of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub number: String,
    pub name: Option<String>,
    /// The tenant domain used in From and To of legs we originate.
    pub domain: String,
}

/// A registered contact of the callee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The Request-URI: the contact as registered.
    pub uri: String,
    /// Where the INVITE goes (the phone's flow or public address).
    pub dest: Source,
    /// Our listener on that path, for Via and Contact.
    pub local_addr: SocketAddr,
}

/// Node-wide call settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSettings {
    pub ring_timeout: Duration,
    pub max_duration: Duration,
    /// Zero turns session timers off.
    pub session_expires: Duration,
    pub min_se: Duration,
    pub t1: Duration,
    pub t2: Duration,
}

/// Everything a call starts from.
pub struct CallSetup {
    pub id: u64,
    pub tenant: String,
    pub caller: Party,
    pub callee: Party,
    /// The caller's INVITE and its server transaction.
    pub invite: Message,
    pub invite_key: TxnKey,
    pub source: Source,
    /// Our listener the INVITE came in on.
    pub local_addr: SocketAddr,
    pub targets: Vec<Target>,
    pub settings: CallSettings,
    pub relay: Arc<Relay>,
    pub media_ip: IpAddr,
    /// Randomness for tags and branches.
    pub seed: u64,
    /// The Call-ID of the legs toward the callee.
    pub b_call_id: String,
    /// Set when the call must be recorded once answered.
    pub recorder: Option<Arc<Recorder>>,
}

/// A live call as `pbxctl calls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallView {
    pub id: u64,
    pub tenant: String,
    pub caller: String,
    pub callee: String,
    /// calling, ringing (the callee's phone said so), answered, ending, ended.
    pub state: String,
    pub start_ms: i64,
    /// 0 until answered.
    pub answer_ms: i64,
    pub codec: String,
    /// Call-IDs of leg A and leg B.
    pub legs: Vec<String>,
    /// The relay session, to route its events to the call.
    #[serde(skip)]
    pub session: Option<u64>,
}
