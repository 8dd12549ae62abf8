package sentinel

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ACL, read-only: the users are the configured ones (node.requirepass for
// the default user, node.users for the others), every user may run every
// command. WHOAMI, USERS, LIST, GETUSER, CAT, DRYRUN, GENPASS, LOG and HELP
// answer as redis-server 7 does; SETUSER, DELUSER, SAVE and LOAD are
// refused with errACLReadOnly, as users change only in the configuration.

const errACLReadOnly = "ERR vigil's users come from its configuration (node.requirepass and node.users, or requirepass/user in sentinel.conf): change them there and restart the node"

// aclUser is one user as ACL shows it.
type aclUser struct {
	name     string
	on       bool
	nopass   bool
	password string // cleartext, only hashed in replies
}

// aclUsers lists the users sorted by name, as redis-server does.
func (n *Node) aclUsers() []aclUser {
	nc := n.cfg.Node
	def := aclUser{name: defaultUser, on: true, nopass: true}
	switch {
	case nc.RequirePass != "":
		def = aclUser{name: defaultUser, on: true, password: nc.RequirePass}
	case nc.AuthRequired():
		// Only node.users may log in: the default user is off.
		def = aclUser{name: defaultUser}
	}
	users := []aclUser{def}
	for _, u := range nc.Users {
		users = append(users, aclUser{name: u.Name, on: true, password: u.Password})
	}
	sort.Slice(users, func(i, j int) bool { return users[i].name < users[j].name })
	return users
}

func (n *Node) aclUser(name string) (aclUser, bool) {
	for _, u := range n.aclUsers() {
		if u.name == name {
			return u, true
		}
	}
	return aclUser{}, false
}

// userExists reports whether name is a configured user (CLIENT KILL USER).
func (n *Node) userExists(name string) bool {
	_, ok := n.aclUser(name)
	return ok
}

func (u aclUser) flags() []string {
	f := []string{"off"}
	if u.on {
		f[0] = "on"
	}
	if u.nopass {
		f = append(f, "nopass")
	}
	return f
}

// hashes are the user's passwords as ACL shows them: hex SHA-256.
func (u aclUser) hashes() []string {
	if u.nopass || u.password == "" {
		return []string{}
	}
	h := sha256.Sum256([]byte(u.password))
	return []string{hex.EncodeToString(h[:])}
}

// rule is the user in ACL LIST's (and the ACL file's) syntax.
func (u aclUser) rule() string {
	parts := append([]string{"user", u.name}, u.flags()...)
	for _, h := range u.hashes() {
		parts = append(parts, "#"+h)
	}
	return strings.Join(append(parts, "~*", "&*", "+@all"), " ")
}

// aclCategories are redis-server 7.0's command categories with the commands
// of a sentinel in each, limited to those vigil answers.
func aclCategories() [][2]string {
	return [][2]string{
		{"keyspace", ""}, {"read", ""}, {"write", ""}, {"set", ""}, {"sortedset", ""}, {"list", ""},
		{"hash", ""}, {"string", ""}, {"bitmap", ""}, {"hyperloglog", ""}, {"geo", ""}, {"stream", ""},
		{"pubsub", "subscribe psubscribe unsubscribe punsubscribe"},
		{"admin", "role client|list client|kill acl|list acl|deluser acl|load acl|save acl|getuser acl|log acl|users acl|dryrun acl|setuser shutdown sentinel"},
		{"fast", "auth role hello ping"},
		{"slow", "info client acl shutdown command sentinel subscribe psubscribe unsubscribe punsubscribe"},
		{"blocking", ""},
		{"dangerous", "role info client|list client|kill acl|list acl|deluser acl|load acl|save acl|getuser acl|log acl|users acl|dryrun acl|setuser shutdown sentinel"},
		{"connection", "auth client hello command ping"},
		{"transaction", ""}, {"scripting", ""},
	}
}

func aclHelp() []string {
	return []string{
		"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"CAT [<category>]",
		"    List all commands that belong to <category>, or all command categories",
		"    when no category is specified.",
		"DELUSER <username> [<username> ...]",
		"    Refused: users come from the configuration.",
		"DRYRUN <username> <command> [<arg> ...]",
		"    Returns whether the user can execute the given command without executing the command.",
		"GETUSER <username>",
		"    Get the user's details.",
		"GENPASS [<bits>]",
		"    Generate a secure 256-bit user password. The optional `bits` argument can",
		"    be used to specify a different size.",
		"LIST",
		"    Show users details in config file format.",
		"LOAD",
		"    Refused: users come from the configuration.",
		"LOG [<count> | RESET]",
		"    Show the ACL log entries (vigil keeps none).",
		"SAVE",
		"    Refused: users come from the configuration.",
		"SETUSER <username> <attribute> [<attribute> ...]",
		"    Refused: users come from the configuration.",
		"USERS",
		"    List all the registered usernames.",
		"WHOAMI",
		"    Return the current connection username.",
		"HELP",
		"    Prints this help.",
	}
}

// aclArity is each ACL subcommand's arity (counting ACL and the
// subcommand; negative = at least).
func aclArity(sub string) (int, bool) {
	switch sub {
	case "whoami", "users", "list", "help", "load", "save":
		return 2, true
	case "getuser":
		return 3, true
	case "cat", "genpass", "log":
		return -2, true
	case "setuser", "deluser":
		return -3, true
	case "dryrun":
		return -4, true
	}
	return 0, false
}

func cmdACL(n *Node, c *clientConn, args []string) bool {
	sub := strings.ToLower(args[1])
	arity, ok := aclArity(sub)
	if !ok {
		c.w.Error(subcommandError(args[1], "acl"))
		return false
	}
	if !arityOK(arity, len(args)) ||
		((sub == "cat" || sub == "genpass" || sub == "log") && len(args) > 3) {
		c.w.Error(subArityError("acl", sub))
		return false
	}
	switch sub {
	case "whoami":
		c.w.Bulk(c.userName())
	case "users":
		var names []string
		for _, u := range n.aclUsers() {
			names = append(names, u.name)
		}
		c.w.BulkStrings(names)
	case "list":
		var rules []string
		for _, u := range n.aclUsers() {
			rules = append(rules, u.rule())
		}
		c.w.BulkStrings(rules)
	case "getuser":
		u, ok := n.aclUser(args[2])
		if !ok {
			c.w.NullBulk()
			return false
		}
		c.w.Map(6)
		c.w.Bulk("flags")
		flags := u.flags()
		c.w.Set(len(flags))
		for _, f := range flags {
			c.w.Bulk(f)
		}
		c.w.Bulk("passwords")
		c.w.BulkStrings(u.hashes())
		c.w.Bulk("commands")
		c.w.Bulk("+@all")
		c.w.Bulk("keys")
		c.w.Bulk("~*")
		c.w.Bulk("channels")
		c.w.Bulk("&*")
		c.w.Bulk("selectors")
		c.w.Array(0)
	case "cat":
		cats := aclCategories()
		if len(args) == 2 {
			names := make([]string, len(cats))
			for i, cat := range cats {
				names[i] = cat[0]
			}
			c.w.BulkStrings(names)
			return false
		}
		for _, cat := range cats {
			if strings.EqualFold(cat[0], args[2]) {
				c.w.BulkStrings(strings.Fields(cat[1]))
				return false
			}
		}
		c.w.Error(fmt.Sprintf("ERR Unknown category '%s'", args[2]))
	case "dryrun":
		if !n.userExists(args[2]) {
			c.w.Error(fmt.Sprintf("ERR User '%s' not found", args[2]))
			return false
		}
		if _, ok := n.commands[strings.ToLower(args[3])]; !ok {
			c.w.Error(fmt.Sprintf("ERR Command '%s' not found", args[3]))
			return false
		}
		c.w.Simple("OK")
	case "genpass":
		bits := 256
		if len(args) == 3 {
			b, err := strconv.Atoi(args[2])
			if err != nil || b <= 0 || b > 4096 {
				c.w.Error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
				return false
			}
			bits = b
		}
		buf := make([]byte, (bits+7)/8)
		_, _ = rand.Read(buf)
		c.w.Bulk(hex.EncodeToString(buf)[:(bits+3)/4])
	case "log":
		if len(args) == 3 {
			if strings.EqualFold(args[2], "reset") {
				c.w.Simple("OK")
				return false
			}
			if _, err := strconv.ParseInt(args[2], 10, 64); err != nil {
				c.w.Error("ERR value is not an integer or out of range")
				return false
			}
		}
		c.w.Array(0)
	case "help":
		writeHelp(c, aclHelp())
	default: // setuser, deluser, save, load
		c.w.Error(errACLReadOnly)
	}
	return false
}
