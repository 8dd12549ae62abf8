package sentinel

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux the link set reads its plain TCP connections itself: each is a
// non-blocking socket registered in one epoll instance, waited on by the
// link set's goroutine. No goroutine, netpoll descriptor or timer is kept
// per connection.

// poller is an epoll instance with an eventfd to wake its waiter.
type poller struct {
	epfd, evfd int
	events     []unix.EpollEvent
	// parkFile is the epoll instance that long waits park on, in Go's
	// network poller, and parkRC its raw access (see initPark); nil if
	// it could not be set up.
	parkFile *os.File
	parkRC   syscall.RawConn
	parkFD   int // parkFile's descriptor (its Fd method would make it blocking)
	// blockFirst is how long a long wait blocks before it parks.
	blockFirst time.Duration

	// mu orders wake, which any goroutine may call at any time, with
	// close: a wake after close must not write to a descriptor number the
	// process may have reused for another file.
	mu     sync.Mutex
	closed bool
}

// newPoller returns a poller whose long waits block for blockFirst before
// they park (see wait).
func newPoller(blockFirst time.Duration) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	p := &poller{epfd: epfd, evfd: evfd, events: make([]unix.EpollEvent, 128), blockFirst: blockFirst}
	if err := p.add(evfd); err != nil {
		p.close()
		return nil, err
	}
	p.initPark()
	return p, nil
}

// initPark sets up parking (see wait): a second epoll instance, which
// holds epfd only while the loop is parked, registered in Go's network
// poller as a file. Were epfd itself registered there, every event of a
// busy loop would also wake the runtime's poller. Without it every wait
// blocks in epoll_wait.
func (p *poller) initPark() {
	outer, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return
	}
	if unix.SetNonblock(outer, true) != nil {
		_ = unix.Close(outer)
		return
	}
	// A non-blocking descriptor given to os.NewFile is registered in the
	// runtime's poller; an epoll descriptor can be (it is readable while
	// it has events). From here the File owns outer.
	f := os.NewFile(uintptr(outer), "epoll")
	rc, err := f.SyscallConn()
	if err != nil || f.SetReadDeadline(time.Time{}) != nil {
		_ = f.Close()
		return
	}
	p.parkFile, p.parkRC, p.parkFD = f, rc, outer
}

// The events a socket is watched for (level-triggered): readable, and,
// while it connects, writable too.
const (
	readEvents    = unix.EPOLLIN | unix.EPOLLRDHUP
	connectEvents = readEvents | unix.EPOLLOUT
)

// ctl adds (op EPOLL_CTL_ADD) or changes (EPOLL_CTL_MOD) what fd is
// watched for.
func (p *poller) ctl(op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	return unix.EpollCtl(p.epfd, op, fd, &ev)
}

// add registers fd for reading.
func (p *poller) add(fd int) error { return p.ctl(unix.EPOLL_CTL_ADD, fd, readEvents) }

func (p *poller) del(fd int) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// wait blocks until a registered socket is ready, wake is called or
// timeout passes (never, when negative; not at all when 0), and appends
// the ready sockets to ready.
//
// With timeout 0 the call is made raw: it cannot block, so the goroutine
// keeps its processor instead of entering and leaving the scheduler's
// system-call state, during which the runtime may hand the processor to
// another thread. A busy loop polls this way first (clientLoop).
//
// A short wait blocks the thread in epoll_wait, which costs the fewest
// system calls. A long one (parkAfter or more, or none) blocks so for
// blockFirst, then parks the goroutine in Go's network poller (see
// initPark): the thread and its processor are free while nothing
// happens, and the runtime wakes the goroutine when the descriptor has
// events or the deadline passes.
func (p *poller) wait(timeout time.Duration, ready []int) ([]int, error) {
	var k int
	var err error
	switch {
	case timeout == 0:
		k, err = p.poll()
	case p.parkRC == nil || (timeout > 0 && timeout < parkAfter):
		k, err = p.block(timeout)
	default:
		// Under load the next event comes soon: block for it first,
		// while sysmon leaves the processor alone, and park only if it
		// does not come.
		start := time.Now()
		if k, err = p.block(p.blockFirst); k == 0 && err == nil {
			rest := time.Duration(-1)
			if timeout > 0 {
				rest = max(timeout-time.Since(start), time.Nanosecond)
			}
			k, err = p.park(rest)
		}
	}
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return ready, nil
		}
		return ready, err
	}
	for _, ev := range p.events[:k] {
		fd := int(ev.Fd)
		if fd == p.evfd {
			var b [8]byte
			_, _ = unix.Read(p.evfd, b[:])
			continue
		}
		ready = append(ready, fd)
	}
	return ready, nil
}

// block waits in epoll_wait, its thread blocked in the system call, for at
// most timeout (none when negative).
func (p *poller) block(timeout time.Duration) (int, error) {
	ms := -1
	if timeout > 0 {
		// Rounded up: waking before the deadline would only wait again.
		ms = int(min((timeout+time.Millisecond-1)/time.Millisecond, 1<<30))
	}
	return unix.EpollWait(p.epfd, p.events, ms)
}

// poll collects the events ready now, without blocking.
func (p *poller) poll() (int, error) {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
		uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// park waits in Go's network poller until the epoll descriptor has events
// or timeout (if positive) passes, then collects them.
func (p *poller) park(timeout time.Duration) (int, error) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.epfd)}
	if err := unix.EpollCtl(p.parkFD, unix.EPOLL_CTL_ADD, p.epfd, &ev); err != nil {
		return p.block(timeout)
	}
	defer func() { _ = unix.EpollCtl(p.parkFD, unix.EPOLL_CTL_DEL, p.epfd, nil) }()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := p.parkFile.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	var k int
	var perr error
	err := p.parkRC.Read(func(uintptr) bool {
		k, perr = p.poll()
		// Not done while nothing is ready: the runtime then parks the
		// goroutine until the outer descriptor becomes readable.
		return k > 0 || (perr != nil && !errors.Is(perr, unix.EINTR))
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	case err != nil:
		return 0, err
	}
	return k, perr
}

// wake makes a waiting (or the next) wait return.
func (p *poller) wake() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		b := [8]byte{1}
		_, _ = unix.Write(p.evfd, b[:])
	}
}

func (p *poller) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		_ = unix.Close(p.evfd)
		_ = unix.Close(p.epfd)
		if p.parkFile != nil {
			_ = p.parkFile.Close()
		}
	}
}

// detach takes the socket of a plain TCP connection out of Go's runtime:
// it returns a non-blocking duplicate of the descriptor and closes nc. On
// an error nc is left open.
func detach(nc net.Conn) (int, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return -1, errors.New("not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err // nc is untouched
	}
	_ = nc.Close() // the duplicate keeps the socket open
	return fd, nil
}

// The sockets read and written here are non-blocking, so their reads and
// writes are raw system calls: they cannot block, and a raw call spares
// the scheduler's system-call bookkeeping (see internal/resp's rawIO).

// rawRW makes a read or write system call on fd, retrying on EINTR.
func rawRW(trap uintptr, fd int, b []byte) (int, unix.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	for {
		n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno != unix.EINTR {
			return int(n), errno
		}
	}
}

// rawOnce makes one read or write system call on fd: what it moved, or
// errAgain when the socket was not ready.
func rawOnce(trap uintptr, fd int, b []byte) (int, error) {
	n, errno := rawRW(trap, fd, b)
	switch errno {
	case 0:
		return n, nil
	case unix.EAGAIN:
		return 0, errAgain
	}
	return 0, errno
}

// fdRead reads what is available; errAgain when nothing is.
func fdRead(fd int, b []byte) (int, error) { return rawOnce(unix.SYS_READ, fd, b) }

// fdWrite writes all of b or fails: a link's requests are a few hundred
// bytes, one batch at a time, so a full socket buffer means a connection
// that is not being read.
func fdWrite(fd int, b []byte) error {
	for len(b) > 0 {
		n, errno := rawRW(unix.SYS_WRITE, fd, b)
		switch {
		case errno != 0:
			return errno
		case n == 0:
			return errShortWrite
		}
		b = b[n:]
	}
	return nil
}

// fdWriteSome writes what the socket takes of b now and returns how much
// that was; errAgain when it takes nothing.
func fdWriteSome(fd int, b []byte) (int, error) { return rawOnce(unix.SYS_WRITE, fd, b) }

func fdClose(fd int) { _ = unix.Close(fd) }

// connectStart starts a non-blocking connect to a numeric address, with
// the socket options Go's dialer would set (no Nagle, keep-alive every
// 15 s). The socket becomes writable when the connect ends, and
// connectResult then tells how it ended.
func connectStart(ap netip.AddrPort) (int, error) {
	ip := ap.Addr().Unmap()
	family := unix.AF_INET
	if ip.Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, err
	}
	for _, o := range [...]struct{ level, opt, v int }{
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			_ = unix.Close(fd)
			return -1, err
		}
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	}
	switch err := unix.Connect(fd, sa); err {
	case nil, unix.EINPROGRESS, unix.EINTR: // EINTR: it goes on in the background
		return fd, nil
	default:
		_ = unix.Close(fd)
		return -1, err
	}
}

// connectResult is the outcome of a connect started by connectStart.
func connectResult(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

// addConnecting registers a connecting socket: it is reported when writable.
func (p *poller) addConnecting(fd int) error { return p.ctl(unix.EPOLL_CTL_ADD, fd, connectEvents) }

// watchWrite watches a socket for writability only (a client whose
// replies wait for room); watchRead goes back to reading.
func (p *poller) watchWrite(fd int) error { return p.ctl(unix.EPOLL_CTL_MOD, fd, unix.EPOLLOUT) }
func (p *poller) watchRead(fd int) error  { return p.ctl(unix.EPOLL_CTL_MOD, fd, readEvents) }

// connected watches a socket whose connect ended for reading only.
func (p *poller) connected(fd int) error { return p.ctl(unix.EPOLL_CTL_MOD, fd, readEvents) }
