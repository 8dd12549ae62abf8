package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// userNotSupported is the warning for a sentinel.conf ACL user vigil
// cannot reproduce (format: notSupported).
const userNotSupported = "%s: vigil's Sentinel port has no ACL rules; give clients passwords with node.requirepass or node.users"

// pendingUser is a "user default ..." line with a password, kept until
// requirepass is known.
type pendingUser struct {
	pos  confPos
	hash string // lower-case hex SHA-256 of the password
}

// defaultUserPassword recognises the line Sentinel's config rewrite writes
// for the default user when requirepass is set ("user default on
// #<sha256> ~* &* +@all"): the default user, on, with exactly one
// password and every permission. It returns the password's SHA-256 in hex.
func defaultUserPassword(args []string) (hash string, ok bool) {
	if len(args) == 0 || args[0] != defaultUser {
		return "", false
	}
	on := false
	var hashes []string
	for _, a := range args[1:] {
		switch lower := strings.ToLower(a); {
		case lower == "on":
			on = true
		case strings.HasPrefix(a, ">"):
			sum := sha256.Sum256([]byte(a[1:]))
			hashes = append(hashes, hex.EncodeToString(sum[:]))
		case strings.HasPrefix(a, "#"):
			hashes = append(hashes, strings.ToLower(a[1:]))
		case lower == "sanitize-payload", lower == "skip-sanitize-payload", lower == "~*", lower == "&*",
			lower == "+@all", lower == "allkeys", lower == "allchannels", lower == "allcommands":
		default:
			return "", false // off, nopass, restricted permissions, ...
		}
	}
	if !on || len(hashes) != 1 {
		return "", false
	}
	return hashes[0], true
}

// applyRequirePass maps requirepass to node.requirepass and warns about
// "user default" lines whose password is not requirepass's.
func (b *confBuilder) applyRequirePass(cfg *Config) {
	cfg.Node.RequirePass = b.requirePass
	sum := sha256.Sum256([]byte(b.requirePass))
	want := hex.EncodeToString(sum[:])
	for _, u := range b.defaultUsers {
		if b.requirePass == "" || u.hash != want {
			b.p.warn(u.pos, "user", userNotSupported, notSupported)
		}
	}
}
