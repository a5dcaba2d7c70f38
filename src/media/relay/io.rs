//! The relay's only `unsafe` code: epoll, an eventfd waker, and batched UDP I/O with
//! `recvmmsg`/`sendmmsg`, behind safe wrappers.
//!
//! Exists because std and socket2 have no batched datagram calls and no epoll, and the relay's
//! per-packet budget (a few µs of CPU) leaves no room for an async runtime. It must never
//! allocate after construction, never block (every call is non-blocking), and never hand out a
//! pointer that outlives the buffers it points into. Used by the relay workers and by the
//! benchmark's load generator.

#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Largest datagram the relay forwards; longer ones are truncated by the kernel and dropped.
pub const MAX_DATAGRAM: usize = 2048;

/// An epoll instance (read interest only).
#[derive(Debug)]
pub struct Poller {
    fd: OwnedFd,
}

/// Ready tokens filled by [`Poller::wait`].
pub struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    /// Room for `cap` events per wait.
    pub fn with_capacity(cap: usize) -> Self {
        let cap = cap.max(1);
        // SAFETY: epoll_event is plain old data; all-zero is a valid value.
        let buf = (0..cap).map(|_| unsafe { zeroed::<libc::epoll_event>() }).collect();
        Events { buf, len: 0 }
    }

    /// Tokens of the ready descriptors from the last wait.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.buf[..self.len].iter().map(|e| e.u64)
    }
}

impl Poller {
    /// A new epoll instance.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; on success we own the returned descriptor.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        Ok(Poller { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Watch `fd` for readability, level-triggered; `token` comes back from [`Poller::wait`].
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        self.ctl_add(fd, libc::EPOLLIN as u32, token)
    }

    /// Watch `fd` edge-triggered: reported when datagrams arrive, not while they wait, so the
    /// caller must read until the socket is empty (or come back to it by itself).
    pub fn add_edge(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        self.ctl_add(fd, (libc::EPOLLIN | libc::EPOLLET) as u32, token)
    }

    fn ctl_add(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: both descriptors are open for the duration of the call; ev is a valid pointer.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Wait for readiness up to `timeout` (`None`: forever). Returns the number of events;
    /// an interrupted wait returns 0.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        let ms = match timeout {
            None => -1,
            Some(t) => i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
        };
        let cap = i32::try_from(events.buf.len()).unwrap_or(i32::MAX);
        // SAFETY: buf has room for `cap` events and lives across the call.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.buf.as_mut_ptr(), cap, ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            events.len = 0;
            return if err.kind() == io::ErrorKind::Interrupted { Ok(0) } else { Err(err) };
        }
        events.len = n as usize;
        Ok(events.len)
    }
}

/// An eventfd used to wake a thread blocked in [`Poller::wait`].
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
    /// Set by the first wake after a drain: later wakes skip the syscall (and the worker's
    /// extra wake-up) until the worker drains again.
    pending: AtomicBool,
}

impl Waker {
    /// A non-blocking eventfd.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; on success we own the descriptor.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is fresh and owned by nobody else.
        Ok(Waker { fd: unsafe { OwnedFd::from_raw_fd(fd) }, pending: AtomicBool::new(false) })
    }

    /// The descriptor to register with a [`Poller`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// Make the eventfd readable (never blocks; a saturated counter is already readable).
    /// Publish what the woken side must see (a queued message) before calling this.
    pub fn wake(&self) {
        if self.pending.swap(true, Ordering::AcqRel) {
            return; // already readable, and the worker has not drained yet
        }
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to an open eventfd.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Reset the eventfd to not readable. Call before looking at what the wakers published.
    ///
    /// Order matters: the eventfd is read first and `pending` cleared after, so `pending`
    /// is never left set with the eventfd empty (a later wake would skip its write and the
    /// worker would sleep on a queued message). A wake between the two is seen through the
    /// swap; one after it writes the eventfd again.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a valid u64.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        self.pending.swap(false, Ordering::AcqRel); // acquires what the skipped wakes published
    }
}

/// Receive buffers for `recvmmsg`, which can also be forwarded in place with `sendmmsg`.
///
/// The header arrays hold raw pointers into `bufs` and `names`; those vectors are sized once
/// in [`RecvBatch::new`] and never resized, so the pointers stay valid as long as `self`.
pub struct RecvBatch {
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    received: usize,
    out_iovs: Vec<libc::iovec>,
    out_hdrs: Vec<libc::mmsghdr>,
    out_name: Box<libc::sockaddr_storage>,
}

// SAFETY: the raw pointers inside point only into heap buffers this value owns (never into
// another value or thread-local data), so moving it to another thread moves the pointees too.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    /// Buffers for up to `cap` datagrams of [`MAX_DATAGRAM`] bytes.
    pub fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, 1024);
        // SAFETY (all zeroed calls here): these libc structs are plain old data.
        let mut b = RecvBatch {
            bufs: vec![0u8; cap * MAX_DATAGRAM],
            names: (0..cap).map(|_| unsafe { zeroed() }).collect(),
            iovs: (0..cap).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..cap).map(|_| unsafe { zeroed() }).collect(),
            received: 0,
            out_iovs: (0..cap).map(|_| unsafe { zeroed() }).collect(),
            out_hdrs: (0..cap).map(|_| unsafe { zeroed() }).collect(),
            out_name: Box::new(unsafe { zeroed() }),
        };
        let bufs = b.bufs.as_mut_ptr();
        for i in 0..cap {
            b.iovs[i] = libc::iovec {
                // SAFETY: i * MAX_DATAGRAM < bufs.len(); the pointer stays inside the allocation.
                iov_base: unsafe { bufs.add(i * MAX_DATAGRAM) }.cast(),
                iov_len: MAX_DATAGRAM,
            };
            let h = &mut b.hdrs[i].msg_hdr;
            h.msg_name = (&mut b.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
            h.msg_iov = &mut b.iovs[i];
            h.msg_iovlen = 1;
        }
        b
    }

    /// How many datagrams one call can take.
    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Receive up to [`capacity`](Self::capacity) datagrams without blocking; 0 when none waits.
    pub fn recv(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        for h in &mut self.hdrs[..self.received] {
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
            h.msg_hdr.msg_flags = 0;
        }
        self.received = 0;
        let cap = self.hdrs.len() as u32;
        // SAFETY: every header points into live buffers of self (see the type's doc) sized as
        // declared; the kernel writes at most that much. The call does not block.
        let n = unsafe {
            libc::recvmmsg(fd.as_raw_fd(), self.hdrs.as_mut_ptr(), cap, libc::MSG_DONTWAIT, std::ptr::null_mut())
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        self.received = n as usize;
        Ok(self.received)
    }

    /// Datagram `i` of the last receive and its source; `None` for a truncated datagram or an
    /// unknown address family.
    pub fn packet_mut(&mut self, i: usize) -> Option<(&mut [u8], SocketAddr)> {
        if i >= self.received {
            return None;
        }
        let h = &self.hdrs[i];
        if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        let len = (h.msg_len as usize).min(MAX_DATAGRAM);
        let src = from_storage(&self.names[i])?;
        Some((&mut self.bufs[i * MAX_DATAGRAM..i * MAX_DATAGRAM + len], src))
    }

    /// Length of datagram `i` of the last receive.
    pub fn len_of(&self, i: usize) -> usize {
        if i < self.received { (self.hdrs[i].msg_len as usize).min(MAX_DATAGRAM) } else { 0 }
    }

    /// Send the received datagrams numbered in `which` (bytes as they are now, in place) from
    /// `fd` to `dst`, without blocking. Returns how many the kernel took.
    pub fn forward(&mut self, fd: BorrowedFd<'_>, which: &[u16], dst: SocketAddr) -> io::Result<usize> {
        let namelen = to_storage(dst, &mut self.out_name);
        let bufs = self.bufs.as_mut_ptr();
        let mut count = 0usize;
        for &i in which {
            let i = usize::from(i);
            if i >= self.received || count >= self.out_hdrs.len() {
                continue;
            }
            self.out_iovs[count] = libc::iovec {
                // SAFETY: i < capacity, so the slot lies inside bufs.
                iov_base: unsafe { bufs.add(i * MAX_DATAGRAM) }.cast(),
                iov_len: self.len_of(i),
            };
            let h = &mut self.out_hdrs[count].msg_hdr;
            h.msg_name = (&mut *self.out_name as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = namelen;
            h.msg_iov = &mut self.out_iovs[count];
            h.msg_iovlen = 1;
            count += 1;
        }
        send_all(fd, &mut self.out_hdrs[..count])
    }
}

/// Outgoing datagrams copied into owned buffers, each with its own destination; for load tools.
pub struct SendBatch {
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    len: usize,
}

// SAFETY: as for RecvBatch, every pointer inside points into heap buffers this value owns.
unsafe impl Send for SendBatch {}

impl SendBatch {
    /// Room for `cap` datagrams of up to [`MAX_DATAGRAM`] bytes.
    pub fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, 1024);
        // SAFETY: plain old data, zero is valid.
        SendBatch {
            bufs: vec![0u8; cap * MAX_DATAGRAM],
            names: (0..cap).map(|_| unsafe { zeroed() }).collect(),
            iovs: (0..cap).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..cap).map(|_| unsafe { zeroed() }).collect(),
            len: 0,
        }
    }

    /// Whether no more datagrams fit.
    pub fn is_full(&self) -> bool {
        self.len == self.hdrs.len()
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queue a copy of `data` (cut to [`MAX_DATAGRAM`]) for `dst`; false when full.
    pub fn push(&mut self, data: &[u8], dst: SocketAddr) -> bool {
        if self.is_full() {
            return false;
        }
        let i = self.len;
        let n = data.len().min(MAX_DATAGRAM);
        self.bufs[i * MAX_DATAGRAM..i * MAX_DATAGRAM + n].copy_from_slice(&data[..n]);
        let namelen = to_storage(dst, &mut self.names[i]);
        let bufs = self.bufs.as_mut_ptr();
        // SAFETY: i < capacity, so the slot lies inside bufs.
        self.iovs[i] = libc::iovec { iov_base: unsafe { bufs.add(i * MAX_DATAGRAM) }.cast(), iov_len: n };
        let h = &mut self.hdrs[i].msg_hdr;
        h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = namelen;
        h.msg_iov = &mut self.iovs[i];
        h.msg_iovlen = 1;
        self.len += 1;
        true
    }

    /// Send everything queued from `fd` and empty the batch; returns how many the kernel took.
    pub fn flush(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        let n = self.len;
        self.len = 0;
        send_all(fd, &mut self.hdrs[..n])
    }
}

/// `sendmmsg` until all are sent or the kernel refuses one; returns the count sent. An error
/// is returned only when nothing at all was sent.
fn send_all(fd: BorrowedFd<'_>, hdrs: &mut [libc::mmsghdr]) -> io::Result<usize> {
    let mut sent = 0usize;
    while sent < hdrs.len() {
        let rest = &mut hdrs[sent..];
        // SAFETY: the headers point into buffers owned by the caller's batch, alive for the call.
        let n = unsafe { libc::sendmmsg(fd.as_raw_fd(), rest.as_mut_ptr(), rest.len() as u32, libc::MSG_DONTWAIT) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return if sent == 0 { Err(err) } else { Ok(sent) };
        }
        if n == 0 {
            break;
        }
        sent += n as usize;
    }
    Ok(sent)
}

fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in; storage is larger and aligned.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6; storage is larger and aligned.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(a.sin6_port), a.sin6_flowinfo, a.sin6_scope_id)))
        }
        _ => None,
    }
}

fn to_storage(addr: SocketAddr, s: &mut libc::sockaddr_storage) -> u32 {
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: storage is large and aligned enough for a sockaddr_in.
            let a = unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            a.sin_family = libc::AF_INET as libc::sa_family_t;
            a.sin_port = v4.port().to_be();
            a.sin_addr = libc::in_addr { s_addr: u32::from(*v4.ip()).to_be() };
            size_of::<libc::sockaddr_in>() as u32
        }
        SocketAddr::V6(v6) => {
            // SAFETY: storage is large and aligned enough for a sockaddr_in6.
            let a = unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            a.sin6_port = v6.port().to_be();
            a.sin6_flowinfo = v6.flowinfo();
            a.sin6_addr = libc::in6_addr { s6_addr: v6.ip().octets() };
            a.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    #[test]
    fn batch_receive_and_forward_in_place() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let relay = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        relay.set_nonblocking(true).unwrap();
        let mut batch = RecvBatch::new(8);
        assert_eq!(batch.recv(relay.as_fd()).unwrap(), 0, "nothing waiting");
        for i in 0..3u8 {
            a.send_to(&[i; 5], relay.local_addr().unwrap()).unwrap();
        }
        let poller = Poller::new().unwrap();
        poller.add(relay.as_fd(), 7).unwrap();
        let mut events = Events::with_capacity(4);
        assert_eq!(poller.wait(&mut events, Some(Duration::from_secs(1))).unwrap(), 1);
        assert_eq!(events.tokens().collect::<Vec<_>>(), vec![7]);
        let n = batch.recv(relay.as_fd()).unwrap();
        assert_eq!(n, 3);
        let (data, src) = batch.packet_mut(1).unwrap();
        assert_eq!(src, a.local_addr().unwrap());
        data[0] = 42;
        assert_eq!(batch.forward(relay.as_fd(), &[0, 1], b.local_addr().unwrap()).unwrap(), 2);
        let mut buf = [0u8; 16];
        let (len, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((len, &buf[..len], from), (5, &[0u8; 5][..], relay.local_addr().unwrap()));
        let (len, _) = b.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..len], &[42, 1, 1, 1, 1]);
    }

    #[test]
    fn send_batch_to_several_destinations() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let r1 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let r2 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = SendBatch::new(2);
        assert!(batch.push(b"one", r1.local_addr().unwrap()));
        assert!(batch.push(b"two", r1.local_addr().unwrap()));
        assert!(!batch.push(b"three", r1.local_addr().unwrap()));
        assert_eq!(batch.flush(tx.as_fd()).unwrap(), 2);
        assert!(batch.is_empty());
        let mut buf = [0u8; 8];
        assert_eq!(r1.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"one");
        batch.push(b"to-r2", r2.local_addr().unwrap());
        batch.push(b"to-r1", r1.local_addr().unwrap());
        assert_eq!(batch.flush(tx.as_fd()).unwrap(), 2);
        let (n, from) = r2.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"to-r2"[..], tx.local_addr().unwrap()));
        assert_eq!(r1.recv(&mut buf).unwrap(), 3, "\"two\" from the first flush");
    }

    #[test]
    fn waker_wakes_poller() {
        let poller = Poller::new().unwrap();
        let waker = Waker::new().unwrap();
        poller.add(waker.fd(), 1).unwrap();
        let mut events = Events::with_capacity(2);
        assert_eq!(poller.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
        waker.wake();
        assert_eq!(poller.wait(&mut events, Some(Duration::ZERO)).unwrap(), 1);
        waker.drain();
        assert_eq!(poller.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
    }

    #[test]
    fn no_wake_is_lost_when_wakes_are_coalesced() {
        // A sender queues messages and wakes; the worker sleeps only in epoll (as the relay
        // worker does). A lost wake-up leaves a message queued and the worker asleep: the
        // long timeout turns that into a test failure instead of a hang.
        const MESSAGES: u32 = 1_000_000;
        let poller = Poller::new().unwrap();
        let waker = std::sync::Arc::new(Waker::new().unwrap());
        poller.add(waker.fd(), 1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let sender = {
            let waker = std::sync::Arc::clone(&waker);
            std::thread::spawn(move || {
                for i in 0..MESSAGES {
                    tx.send(i).unwrap();
                    waker.wake();
                }
            })
        };
        let mut events = Events::with_capacity(2);
        let mut received = 0;
        while received < MESSAGES {
            let ready = poller.wait(&mut events, Some(Duration::from_secs(2))).unwrap();
            assert_eq!(ready, 1, "asleep with {} of {MESSAGES} messages received", received);
            waker.drain();
            received += rx.try_iter().count() as u32;
        }
        sender.join().unwrap();
    }
}
