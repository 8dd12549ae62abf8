// Package glob matches Redis-style glob patterns, as redis-server's
// stringmatch does for PSUBSCRIBE, KEYS and SENTINEL RESET.
package glob

// Match matches Redis-style glob patterns as redis-server's stringmatch
// does: * and ? (any byte, '/' included), [abc], [^a-z], and \x escapes.
// It backtracks only to the last star, so it runs in O(len(pattern)*len(s))
// whatever a client subscribes with.
func Match(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starI = p, i
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if rest, ok := matchClass(pattern[p+1:], s[i]); ok {
					p = len(pattern) - len(rest)
					i++
					continue
				}
			default:
				if c == '\\' && p+1 < len(pattern) {
					if pattern[p+1] == s[i] {
						p += 2
						i++
						continue
					}
				} else if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the character class that starts at p (just
// after '['). It returns the pattern after the class and whether c matched.
func matchClass(p string, c byte) (string, bool) {
	negate := false
	if len(p) > 0 && p[0] == '^' {
		negate = true
		p = p[1:]
	}
	matched := false
	for len(p) > 0 && p[0] != ']' {
		switch {
		case p[0] == '\\' && len(p) >= 2:
			if p[1] == c {
				matched = true
			}
			p = p[2:]
		case len(p) >= 3 && p[1] == '-' && p[2] != ']':
			lo, hi := p[0], p[2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				matched = true
			}
			p = p[3:]
		default:
			if p[0] == c {
				matched = true
			}
			p = p[1:]
		}
	}
	if len(p) > 0 {
		p = p[1:] // skip ']'
	}
	return p, matched != negate
}
