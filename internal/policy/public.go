package policy

import (
	"net/netip"
	"strings"
)

// nonPublicKeys are the condition keys (in lower case) whose fixed values
// make a statement that names everyone non-public, as S3's Block Public
// Access defines it: they tie access to known networks, sources,
// organizations, accounts or users rather than to anyone at all.
var nonPublicKeys = []string{"aws:sourceip", "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce",
	"aws:sourceowner", "aws:sourceaccount", "aws:principalorgid", "aws:principalaccount", "aws:userid",
	"s3:dataaccesspointarn", "s3:dataaccesspointaccount"}

// IsPublic reports whether p, a resource-based policy, is public as S3's
// Block Public Access defines it. A policy is public unless every Allow
// statement either names only fixed principals (ARNs, account ids and
// service names without wildcards) or, naming everyone ("*",
// {"AWS": "*"}, or a NotPrincipal), is restricted by a condition that
// requires fixed values of one of the keys that make a grant
// non-public: aws:SourceIp (with no range covering every address),
// aws:SourceArn, aws:SourceVpc, aws:SourceVpce, aws:SourceOwner,
// aws:SourceAccount, aws:PrincipalOrgID, aws:PrincipalAccount,
// aws:userid, s3:DataAccessPointArn and s3:DataAccessPointAccount. A
// value is fixed when it holds no wildcard ('*', '?') and no policy
// variable. Deny statements never make a policy public. It allocates
// nothing.
func (p *Policy) IsPublic() bool {
	for i := range p.statements {
		s := &p.statements[i]
		if s.deny || s.who == nil || !s.who.public() || s.restricted() {
			continue
		}
		return true
	}
	return false
}

// public reports whether w names anyone beyond a fixed set of
// principals.
func (w *principals) public() bool {
	if w.not || w.anyone {
		return true
	}
	for _, a := range w.aws {
		if !fixedValue(a) {
			return true
		}
	}
	for _, s := range w.services {
		if !fixedValue(s) {
			return true
		}
	}
	return false
}

// restricted reports whether one of s's conditions (which must all hold)
// limits the statement to fixed values of a key that makes a grant
// non-public.
func (s *statement) restricted() bool {
	for i := range s.conds {
		if s.conds[i].restricts() {
			return true
		}
	}
	return false
}

// restricts reports whether c can only hold for a request whose value of
// a non-public-making key is one of c's fixed values. A negated
// operator, an IfExists form, ForAllValues (which an absent key
// satisfies) and Null never do.
func (c *condition) restricts() bool {
	if c.negated || c.ifExists || c.set == 2 || c.vars || len(c.values) == 0 {
		return false
	}
	key := ""
	for _, k := range nonPublicKeys {
		if strings.EqualFold(c.key, k) {
			key = k
			break
		}
	}
	switch {
	case key == "":
		return false
	case key == "aws:sourceip":
		if c.kind != opIP {
			return false
		}
		for _, v := range c.values {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				if _, err := netip.ParseAddr(v); err != nil {
					return false
				}
				continue // one address
			}
			if p.Bits() == 0 {
				return false // every address of its family
			}
		}
		return true
	}
	switch c.kind {
	case opString, opStringIgnoreCase, opStringLike, opARN, opARNLike:
	default:
		return false
	}
	for _, v := range c.values {
		if v == "" || !fixedValue(v) {
			return false
		}
	}
	return true
}

// fixedValue reports whether v holds no wildcard and no policy variable.
func fixedValue(v string) bool {
	return !strings.ContainsAny(v, "*?") && !strings.Contains(v, "${")
}
