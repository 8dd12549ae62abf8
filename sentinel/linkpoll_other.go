//go:build !linux

package sentinel

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// Without epoll every link connection is read by a goroutine of its own
// (linkSet's pump); these stubs are never reached.

type poller struct{}

func newPoller(time.Duration) (*poller, error) { return nil, errors.New("no poller on this platform") }

func (p *poller) add(int) error { return errors.New("no poller") }
func (p *poller) del(int)       {}
func (p *poller) wait(time.Duration, []int) ([]int, error) {
	return nil, errors.New("no poller")
}
func (p *poller) wake()  {}
func (p *poller) close() {}

func detach(net.Conn) (int, error)         { return -1, errors.New("no poller") }
func fdRead(int, []byte) (int, error)      { return 0, errors.New("no poller") }
func fdWrite(int, []byte) error            { return errors.New("no poller") }
func fdClose(int)                          {}
func fdWriteSome(int, []byte) (int, error) { return 0, errors.New("no poller") }
func (p *poller) watchWrite(int) error     { return errors.New("no poller") }
func (p *poller) watchRead(int) error      { return errors.New("no poller") }

func connectStart(netip.AddrPort) (int, error) { return -1, errors.New("no poller") }
func connectResult(int) error                  { return errors.New("no poller") }
func (p *poller) addConnecting(int) error      { return errors.New("no poller") }
func (p *poller) connected(int) error          { return errors.New("no poller") }
