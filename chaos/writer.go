package main

// router rewrites the addresses clients dial: the controllers may name a
// proxy in front of the master (scenarios 6 and 7), while the clients of
// the suite sit on the master's side of that proxy and reach the master
// directly. It also tells which address a connection really reached.
type router struct {
	route map[string]string // advertised address → real address
}

// resolve returns the real address behind addr.
func (r router) resolve(addr string) string {
	if real, ok := r.route[addr]; ok {
		return real
	}
	return addr
}
