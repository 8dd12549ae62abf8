package sentinel

import (
	"crypto/sha256"
	"crypto/subtle"
)

// Authentication on the Sentinel port follows redis-server 7 with
// requirepass and ACL users: when node.requirepass or node.users is set, a
// new connection may only run AUTH, HELLO, QUIT and RESET until it
// authenticates; anything else is answered -NOAUTH (after the unknown
// command and arity checks, as redis-server orders them). RESET logs the
// connection out again. With no password configured nothing changes: AUTH
// answers redis-server's "called without any password configured" error.

// Reply texts of redis-server 7.0.
const (
	errNoAuth      = "NOAUTH Authentication required."
	errWrongPass   = "WRONGPASS invalid username-password pair or user is disabled."
	errHelloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
)

// defaultUser is the user of node.requirepass, as in redis-server.
const defaultUser = "default"

// runsUnauthenticated lists the commands redis-server flags no-auth.
func runsUnauthenticated(name string) bool {
	switch name {
	case "auth", "hello", "quit", "reset":
		return true
	}
	return false
}

// checkAuth reports whether c may run the command name; if not, it writes
// -NOAUTH. Requires c.mu.
func (n *Node) checkAuth(c *clientConn, name string) bool {
	if c.authed || !n.cfg.Node.AuthRequired() || runsUnauthenticated(name) {
		return true
	}
	c.w.Error(errNoAuth)
	return false
}

// credentialsOK reports whether user and pass are a configured pair: the
// default user with node.requirepass, or one of node.users. Every
// configured password is compared, in constant time, whatever the user, so
// that timing tells nothing about which users exist or how much of a
// password matched.
func (n *Node) credentialsOK(user, pass string) bool {
	nc := n.cfg.Node
	ok := false
	if nc.RequirePass != "" {
		match := secretEqual(pass, nc.RequirePass)
		ok = ok || (match && user == defaultUser)
	}
	for _, u := range nc.Users {
		match := secretEqual(pass, u.Password)
		ok = ok || (match && user == u.Name)
	}
	return ok
}

// secretEqual compares two secrets in time independent of their contents
// and lengths.
func secretEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// authenticate answers AUTH pass or AUTH user pass (args after AUTH) when
// credentials are configured. A failure leaves an already authenticated
// connection authenticated, as in redis-server. Requires c.mu.
func (n *Node) authenticate(c *clientConn, args []string) {
	user, pass := defaultUser, args[0]
	if len(args) == 2 {
		user, pass = args[0], args[1]
	}
	if !n.credentialsOK(user, pass) {
		n.log.Debug("AUTH failed", "client", c.id, "addr", c.netConn.RemoteAddr().String(), "user", user)
		c.w.Error(errWrongPass)
		return
	}
	c.authed = true
	c.meta.user = user
	c.w.Simple("OK")
}

// helloAuth applies HELLO's AUTH option (given, with user and pass) and
// then requires the connection to be authenticated, writing the error and
// returning false otherwise. Without configured credentials HELLO AUTH is
// accepted whatever it says, as before. Requires c.mu.
func (n *Node) helloAuth(c *clientConn, given bool, user, pass string) bool {
	if !n.cfg.Node.AuthRequired() {
		return true
	}
	if given {
		if !n.credentialsOK(user, pass) {
			n.log.Debug("HELLO AUTH failed", "client", c.id, "addr", c.netConn.RemoteAddr().String(), "user", user)
			c.w.Error(errWrongPass)
			return false
		}
		c.authed = true
		c.meta.user = user
	}
	if !c.authed {
		c.w.Error(errHelloNoAuth)
		return false
	}
	return true
}
