//! The missed-call email end to end: extension 101 calls 102, whose phone is busy; 102 has
//! `missed_call_email = true`, so pbxd sends an email through an SMTP server run by this test
//! (a real SMTP conversation: EHLO, MAIL, RCPT, DATA, QUIT), with the caller and the time.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::sipp::{self, Phone};
use common::*;

const ACME: &str = "acme.pbx.example.net";

/// What the SMTP server received: envelope and message.
#[derive(Debug)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// Accepts SMTP sessions until the test ends, sending each mail to the channel.
fn smtp_server() -> (u16, mpsc::Receiver<Mail>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes()).unwrap();
                reply("220 test.smtp ESMTP ready");
                let mut mail = Mail { from: String::new(), to: Vec::new(), data: String::new() };
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.trim_end().to_owned();
                    let upper = command.to_ascii_uppercase();
                    if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        reply("250-test.smtp greets you\r\n250 8BITMIME");
                    } else if upper.starts_with("MAIL FROM:") {
                        mail.from = command[10..].trim().to_owned();
                        reply("250 OK");
                    } else if upper.starts_with("RCPT TO:") {
                        mail.to.push(command[8..].trim().to_owned());
                        reply("250 OK");
                    } else if upper == "DATA" {
                        reply("354 end with <CRLF>.<CRLF>");
                        loop {
                            line.clear();
                            lines.read_line(&mut line).unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            mail.data.push_str(&line);
                        }
                        reply("250 queued");
                        tx.send(std::mem::replace(
                            &mut mail,
                            Mail { from: String::new(), to: Vec::new(), data: String::new() },
                        ))
                        .unwrap();
                    } else if upper == "QUIT" {
                        reply("221 bye");
                        return;
                    } else {
                        reply("250 OK");
                    }
                }
            });
        }
    });
    (port, rx)
}

#[test]
fn a_missed_call_is_emailed_to_the_callee() {
    if !sipp::have_sipp() {
        return;
    }
    let (smtp_port, mails) = smtp_server();
    let dir = tempfile::tempdir().unwrap();
    let mut pbxd = Pbxd::configure(dir.path(), "", "");
    let config = std::fs::read_to_string(&pbxd.config).unwrap()
        + &format!(
            "\n[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp_port}\nsecurity = \"none\"\nfrom = \"PBX <pbx@node.example>\"\n"
        );
    std::fs::write(&pbxd.config, config).unwrap();
    pbxd.spawn();
    let tenants = copy_examples(dir.path());
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let server = pbxd.sip_addr("udp");

    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_busy.xml");
    let rows = [format!("101;demo-101;{ACME};102")];
    let call = sipp::run(dir.path(), "calls/uac_busy.xml", &rows, "127.0.0.1", server, 1);
    assert!(call.status.success(), "{}", String::from_utf8_lossy(&call.stdout));
    assert!(phone.finished_ok());

    let mail = mails.recv_timeout(Duration::from_secs(15)).expect("an email arrives");
    assert_eq!(mail.to, ["<bob@acme.example>"], "102 is Bob");
    assert!(mail.from.contains("pbx@"), "{}", mail.from);
    let data = mail.data.replace("\r\n", "\n");
    assert!(data.contains("Subject: Missed call from"), "{data}");
    assert!(data.contains("(101)"), "the caller's number: {data}");
    assert!(data.contains("Why:   you were busy"), "{data}");
    let year = jiff::Timestamp::now().strftime("%Y").to_string();
    assert!(data.contains(&format!("Time:  {year}-")), "the time of the call: {data}");
    assert!(mails.recv_timeout(Duration::from_secs(2)).is_err(), "one call, one email");
}

/// No `[email]` on the node: the tenant's own SMTP server (`notifications.smtp`) and sender
/// carry the notice.
#[test]
fn a_tenant_smtp_server_overrides_the_node() {
    if !sipp::have_sipp() {
        return;
    }
    let (smtp_port, mails) = smtp_server();
    let dir = tempfile::tempdir().unwrap();
    let pbxd = Pbxd::start(dir.path(), "");
    let tenants = copy_examples(dir.path());
    let acme = tenants.join("acme.toml");
    let text = std::fs::read_to_string(&acme).unwrap().replacen(
        "[notifications]\n",
        &format!(
            "[notifications]\nfrom = \"Acme PBX <pbx@acme.example>\"\n\
             smtp = {{ host = \"127.0.0.1\", port = {smtp_port}, security = \"none\" }}\n"
        ),
        1,
    );
    std::fs::write(&acme, text).unwrap();
    let apply = pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let server = pbxd.sip_addr("udp");

    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_busy.xml");
    let rows = [format!("101;demo-101;{ACME};102")];
    let call = sipp::run(dir.path(), "calls/uac_busy.xml", &rows, "127.0.0.1", server, 1);
    assert!(call.status.success(), "{}", String::from_utf8_lossy(&call.stdout));
    assert!(phone.finished_ok());

    let mail = mails.recv_timeout(Duration::from_secs(15)).expect("an email through the tenant's server");
    assert_eq!(mail.to, ["<bob@acme.example>"]);
    assert_eq!(mail.from, "<pbx@acme.example>", "the tenant's sender");
    assert!(mail.data.contains("Acme PBX"), "the tenant's sender name: {}", mail.data);
}
