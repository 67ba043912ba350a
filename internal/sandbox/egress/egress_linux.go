//go:build linux

package egress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Options configures a Host. The zero value gives Lambda's default network.
type Options struct {
	// Allow lists IPv4 prefixes instances may reach although they lie in
	// a range that is otherwise refused (a LAN service the operator wants
	// functions to use, say). The host itself stays out of reach.
	Allow []netip.Prefix
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Prefix is what the host-side interfaces are named: Prefix and a number.
const Prefix = "aloft"

// TableName is the nftables table (inet family) that holds the policy.
const TableName = "aloft"

// pool is where instance addresses come from: one /30 per number.
var pool = netip.MustParsePrefix("100.64.0.0/10")

// maxIndex bounds the numbers: a /30 each in pool.
const maxIndex = 1 << (32 - 10 - 2)

// Denied lists the IPv4 ranges an instance never reaches unless
// Options.Allow names them: this network, private networks, shared address
// space (which the instances' own addresses come from), loopback,
// link-local (cloud metadata services), IETF protocol assignments,
// benchmarking, multicast and reserved.
var Denied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// Host connects instance namespaces to the host. Create it with New; it
// is safe for concurrent use.
type Host struct {
	log  *slog.Logger
	next atomic.Uint32 // the number the next Attach tries first
}

// forwardMarker records, until the machine restarts, that an Aloft server
// turned IPv4 forwarding on, so that later starts keep dropping what the
// host did not forward before.
const forwardMarker = "/run/aloft-egress-forwarding"

// New installs the policy table, replacing one an earlier start left,
// and turns IPv4 forwarding on if it was off. It fails where the kernel
// lacks nftables, NAT or veth support, saying so.
func New(o Options) (*Host, error) {
	h := &Host{log: o.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range o.Allow {
		if !p.Addr().Is4() {
			return nil, fmt.Errorf("egress: allowed prefix %s is not IPv4", p)
		}
	}
	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	guard := false
	if strings.TrimSpace(string(fwd)) != "1" {
		if err := os.WriteFile(forwardMarker, nil, 0o600); err != nil {
			return nil, fmt.Errorf("egress: %w", err)
		}
		guard = true
	} else if _, err := os.Stat(forwardMarker); err == nil {
		guard = true
	}
	dns := nameServers(resolvConf, h.log)
	if err := installInPlace(o.Allow, dns, guard); err != nil {
		// A table of another shape (an older build's) cannot be refilled
		// in place; it is replaced whole.
		h.log.Info("egress: replacing the policy table", "err", err)
		if err := installTable(o.Allow, dns, guard, true); err != nil {
			return nil, fmt.Errorf("egress: install nftables table %q: %w", TableName, err)
		}
	}
	if err := pruneAllowances(h.log); err != nil {
		return nil, fmt.Errorf("egress: prune allowances left behind: %w", err)
	}
	if strings.TrimSpace(string(fwd)) != "1" {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
			return nil, fmt.Errorf("egress: turn IPv4 forwarding on: %w", err)
		}
		h.log.Info("egress: turned IPv4 forwarding on; the host forwards nothing but instances' traffic")
	}
	// Start at a number of our own, so that servers sharing the host
	// rarely try the same names.
	h.next.Store(uint32(os.Getpid()*64) % maxIndex)
	return h, nil
}

// Link is one namespace's connection to the host.
type Link struct {
	name  string
	index int // the host-side interface's
	once  sync.Once
	err   error
}

// allowMap is the verdict map that sends an instance's packets, by its
// host-side interface, to the chain of the ranges Link.Allow let it reach.
const allowMap = "instance_allow"

// Allow lets this namespace reach the IPv4 ranges p besides what every
// instance may reach (private or link-local ones, say; the host itself
// stays out of reach), until Revoke: a chain of its own with a rule per
// range, which the forward chain jumps to by interface index, in one
// transaction. The map is keyed by index, not name, because the kernel
// does not hand an index out twice, so an allowance left behind by a
// server that died can never pass to a later instance given the same
// interface name.
func (l *Link) Allow(p []netip.Prefix) error {
	for _, q := range p {
		if !q.Addr().Is4() {
			return fmt.Errorf("egress: allowed prefix %s is not IPv4", q)
		}
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("egress: allow for %s: %w", l.name, err)
	}
	defer c.CloseLasting()
	t := policyTable()
	ch := c.AddChain(&nftables.Chain{Name: allowChain(l.index), Table: t})
	c.FlushChain(ch) // a second Allow replaces the first
	for _, q := range p {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(daddrIn(q), accept())})
	}
	err = c.SetAddElements(allowSet(t), []nftables.SetElement{{Key: indexKey(l.index), VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: ch.Name}}})
	if err == nil {
		err = c.Flush()
	}
	if err != nil {
		return fmt.Errorf("egress: allow for %s: %w", l.name, err)
	}
	return nil
}

// Revoke takes back what Allow let the namespace reach.
func (l *Link) Revoke() error {
	if err := revoke(l.index); err != nil {
		return fmt.Errorf("egress: revoke for %s: %w", l.name, err)
	}
	return nil
}

// installInPlace refills the policy table in place, trying again a few
// times: a transaction can fail for a moment while another server on
// the host commits its own, and replacing the table whole would take
// the running instances' allowances with it.
func installInPlace(allow []netip.Prefix, dns []netip.Addr, guard bool) error {
	var err error
	for try := range 4 {
		if err = installTable(allow, dns, guard, false); err == nil {
			return nil
		}
		time.Sleep(time.Duration(try+1) * 20 * time.Millisecond)
	}
	return err
}

// revoke removes the allowance of the interface with index i: its map
// element and its chain, in one transaction. What is already gone (a
// server starting beside this one may have pruned it once the interface
// went) counts as removed: when the transaction fails, the outcome is
// judged by what the table holds, not by the kernel's error.
func revoke(i int) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	t := policyTable()
	ch := &nftables.Chain{Name: allowChain(i), Table: t}
	if err := c.SetDeleteElements(allowSet(t), []nftables.SetElement{{Key: indexKey(i)}}); err != nil {
		return err
	}
	c.FlushChain(ch)
	c.DelChain(ch)
	err = c.Flush()
	if err == nil {
		return nil
	}
	// Part of it was gone; remove what is left, one piece at a time.
	el, chain, lerr := allowanceLeft(c, i)
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	if el {
		if err := c.SetDeleteElements(allowSet(t), []nftables.SetElement{{Key: indexKey(i)}}); err != nil {
			return err
		}
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	if chain {
		c.FlushChain(ch)
		c.DelChain(ch)
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	if el, chain, lerr = allowanceLeft(c, i); lerr != nil || el || chain {
		return errors.Join(err, lerr, fmt.Errorf("allowance of interface %d still present (element %v, chain %v)", i, el, chain))
	}
	return nil
}

// allowanceLeft reports whether the map element and the chain of the
// allowance of interface i are in the table.
func allowanceLeft(c *nftables.Conn, i int) (element, chain bool, err error) {
	els, err := c.GetSetElements(allowSet(policyTable()))
	if err != nil {
		return false, false, fmt.Errorf("list allowances: %w", err)
	}
	key := indexKey(i)
	for _, e := range els {
		if string(e.Key) == string(key) {
			element = true
		}
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, false, fmt.Errorf("list chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name == TableName && ch.Name == allowChain(i) {
			chain = true
		}
	}
	return element, chain, nil
}

// allowChain names the chain of what Allow let the interface with index
// i reach.
func allowChain(i int) string { return "allow_" + strconv.Itoa(i) }

func policyTable() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

func allowSet(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: allowMap, IsMap: true, KeyType: nftables.TypeIFIndex, DataType: nftables.TypeVerdict}
}

// indexKey is an interface index as nftables keys it: four bytes in the
// host's order.
func indexKey(i int) []byte {
	return binaryutil.NativeEndian.PutUint32(uint32(i))
}

// pruneAllowances removes the allowances of interfaces that no longer
// exist: what a server that died without revoking them left.
func pruneAllowances(log *slog.Logger) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	els, err := c.GetSetElements(allowSet(policyTable()))
	if err != nil {
		return err
	}
	for _, e := range els {
		if len(e.Key) != 4 {
			continue
		}
		i := int(binaryutil.NativeEndian.Uint32(e.Key))
		// Only an interface the kernel says is gone loses its allowance;
		// any other failure to look it up keeps it.
		var gone netlink.LinkNotFoundError
		if _, err := netlink.LinkByIndex(i); !errors.As(err, &gone) {
			continue
		}
		if err := revoke(i); err != nil {
			return fmt.Errorf("interface %d: %w", i, err)
		}
		log.Info("egress: removed the allowance of a link that is gone", "index", i)
	}
	return nil
}

// Name returns the host-side interface's name.
func (l *Link) Name() string { return l.name }

// Close cuts the namespace off by deleting the pair: the namespace keeps
// only its loopback. The kernel holds its network configuration lock for
// a grace period while it deletes a device (about 20 ms here), stalling
// every other namespace being set up meanwhile, so only a namespace that
// must go on without its link is closed; the others' pairs go with them,
// removed by the kernel in batches when their last process is gone.
func (l *Link) Close() error {
	l.once.Do(func() {
		lk, err := netlink.LinkByName(l.name)
		if err == nil {
			err = netlink.LinkDel(lk)
		}
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			err = nil // gone with its namespace already
		}
		if err != nil {
			l.err = fmt.Errorf("egress: delete %s: %w", l.name, err)
		}
	})
	return l.err
}

// Attach connects the network namespace nsfd to the host: a veth pair,
// addresses on both ends and a default route in the namespace through
// the host. The namespace's loopback is the caller's to bring up.
func (h *Host) Attach(nsfd int) (*Link, error) {
	for tries := 0; tries < 64; tries++ {
		i := h.next.Add(1) % maxIndex
		l, err := h.attach(nsfd, i)
		if errors.Is(err, unix.EEXIST) {
			continue // another server's, or ours from before a restart
		}
		return l, err
	}
	return nil, errors.New("egress: no free interface name")
}

func (h *Host) attach(nsfd int, i uint32) (*Link, error) {
	base := pool.Addr().As4()
	n := binary.BigEndian.Uint32(base[:]) + i*4
	hostIP, nsIP := ip4(n+1), ip4(n+2)
	mask := net.CIDRMask(30, 32)
	name := Prefix + strconv.FormatUint(uint64(i), 10)
	la := netlink.NewLinkAttrs()
	la.Name = name
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(nsfd)}); err != nil {
		return nil, fmt.Errorf("egress: create %s: %w", name, err)
	}
	l := &Link{name: name}
	fail := func(err error) (*Link, error) {
		l.Close()
		return nil, err
	}
	// No IPv6 on the host's end: not even a link-local address through
	// which an instance could reach a host service listening on [::].
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644); err != nil && !os.IsNotExist(err) {
		return fail(fmt.Errorf("egress: disable IPv6 on %s: %w", name, err))
	}
	hl, err := netlink.LinkByName(name)
	if err != nil {
		return fail(fmt.Errorf("egress: %s: %w", name, err))
	}
	l.index = hl.Attrs().Index
	if err := netlink.AddrAdd(hl, &netlink.Addr{IPNet: &net.IPNet{IP: hostIP, Mask: mask}}); err != nil {
		return fail(fmt.Errorf("egress: address %s: %w", name, err))
	}
	if err := netlink.LinkSetUp(hl); err != nil {
		return fail(fmt.Errorf("egress: bring %s up: %w", name, err))
	}
	nh, err := netlink.NewHandleAt(netns.NsHandle(nsfd))
	if err != nil {
		return fail(fmt.Errorf("egress: netlink in the namespace: %w", err))
	}
	defer nh.Close()
	el, err := nh.LinkByName("eth0")
	if err != nil {
		return fail(fmt.Errorf("egress: eth0 in the namespace: %w", err))
	}
	if err := nh.AddrAdd(el, &netlink.Addr{IPNet: &net.IPNet{IP: nsIP, Mask: mask}}); err != nil {
		return fail(fmt.Errorf("egress: address eth0: %w", err))
	}
	if err := nh.LinkSetUp(el); err != nil {
		return fail(fmt.Errorf("egress: bring eth0 up: %w", err))
	}
	if err := nh.RouteAdd(&netlink.Route{LinkIndex: el.Attrs().Index, Gw: hostIP}); err != nil {
		return fail(fmt.Errorf("egress: default route: %w", err))
	}
	return l, nil
}

// ip4 renders n as an IPv4 address.
func ip4(n uint32) net.IP {
	return net.IPv4(byte(n>>24), byte(n>>16), byte(n>>8), byte(n)).To4()
}

// resolvConf is the resolver configuration instances see: the host's.
const resolvConf = "/etc/resolv.conf"

// nameServers returns the name servers instances may reach on port 53
// (see resolvers), and warns when the configuration at path names only
// loopback ones: a local stub such as systemd-resolved's 127.0.0.53
// answers on the host's loopback, which no instance reaches, so functions
// could resolve no name.
func nameServers(path string, log *slog.Logger) []netip.Addr {
	dns, loopback := resolvers(path)
	if len(dns) == 0 && len(loopback) > 0 {
		log.Warn("egress: every name server in "+path+" is a loopback address, which instances cannot reach, so functions cannot resolve names; "+
			"point "+path+" at a resolver on the network (with systemd-resolved, link it to /run/systemd/resolve/resolv.conf) and restart the server",
			"nameservers", loopback)
	}
	return dns
}

// resolvers returns the IPv4 name servers that the resolver configuration
// at path names (the file instances see): instances may reach those on
// port 53 even in a denied range. Loopback servers are left out, as an
// instance's loopback is its own, and returned apart.
func resolvers(path string) (servers, loopback []netip.Addr) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		switch {
		case err != nil:
		case a.IsLoopback():
			loopback = append(loopback, a)
		case a.Is4():
			servers = append(servers, a)
		}
	}
	return servers, loopback
}

// installTable installs the policy table in one transaction: it creates
// the table and the allowance map if they are absent and refills the
// hooked chains, keeping the allowances of running instances (another
// server's on this host, say); with replace it deletes whatever was
// there first. guard adds the rule that keeps the host from forwarding
// anything but instances' traffic.
func installTable(allow []netip.Prefix, dns []netip.Addr, guard, replace bool) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	t := policyTable()
	c.AddTable(t)
	if replace {
		c.DelTable(t)
		c.AddTable(t)
	}
	allowed := allowSet(t)
	if err := c.AddSet(allowed, nil); err != nil {
		return err
	}
	policy := nftables.ChainPolicyAccept
	input := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &policy})
	forward := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &policy})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &policy})
	for _, ch := range []*nftables.Chain{input, forward, post} {
		c.FlushChain(ch)
	}

	rule := func(ch *nftables.Chain, ex ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: ex})
	}
	// Nothing from an instance reaches the host.
	rule(input, append(ifname(expr.MetaKeyIIFNAME, true), drop())...)

	// Into an instance: only what belongs to a connection it opened.
	rule(forward, append(append(ifname(expr.MetaKeyOIFNAME, true), ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)...), accept())...)
	rule(forward, append(ifname(expr.MetaKeyOIFNAME, true), drop())...)
	// Out of an instance: IPv4 only, the allowed prefixes, the DNS
	// servers on port 53, then anything not denied.
	rule(forward, append(append(ifname(expr.MetaKeyIIFNAME, true), nfproto(unix.NFPROTO_IPV4, false)...), drop())...)
	// What one instance was allowed (Link.Allow): its own chain, by
	// interface; returning from it goes on here.
	rule(forward, append(ifname(expr.MetaKeyIIFNAME, true),
		&expr.Meta{Key: expr.MetaKeyIIF, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: allowed.Name, SetID: allowed.ID, IsDestRegSet: true, DestRegister: 0})...)
	for _, p := range allow {
		rule(forward, append(append(ifname(expr.MetaKeyIIFNAME, true), daddrIn(p)...), accept())...)
	}
	for _, a := range dns {
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			ex := ifname(expr.MetaKeyIIFNAME, true)
			ex = append(ex, daddrIn(netip.PrefixFrom(a, 32))...)
			ex = append(ex,
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 53}})
			rule(forward, append(ex, accept())...)
		}
	}
	for _, p := range Denied {
		rule(forward, append(append(ifname(expr.MetaKeyIIFNAME, true), daddrIn(p)...), drop())...)
	}
	rule(forward, append(ifname(expr.MetaKeyIIFNAME, true), accept())...)
	if guard {
		// Forwarding is on for the instances' sake only.
		rule(forward, drop())
	}
	// Out to the world: behind the host's address.
	ex := append(nfproto(unix.NFPROTO_IPV4, true), saddrIn(pool)...)
	ex = append(ex, ifname(expr.MetaKeyOIFNAME, false)...)
	rule(post, append(ex, &expr.Masq{})...)
	return c.Flush()
}

// ifname matches (or, with eq false, refuses) interfaces whose name
// starts with Prefix.
func ifname(key expr.MetaKey, eq bool) []expr.Any {
	op := expr.CmpOpEq
	if !eq {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte(Prefix)},
	}
}

// nfproto matches packets of family (or, with eq false, of any other).
func nfproto(family byte, eq bool) []expr.Any {
	op := expr.CmpOpEq
	if !eq {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte{family}},
	}
}

// ctState matches connections in any of the states in mask.
func ctState(mask uint32) []expr.Any {
	m := binary.NativeEndian.AppendUint32(nil, mask)
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// daddrIn and saddrIn match IPv4 destinations and sources in p; the
// caller has matched IPv4 first.
func daddrIn(p netip.Prefix) []expr.Any { return addrIn(16, p) }
func saddrIn(p netip.Prefix) []expr.Any { return addrIn(12, p) }

func addrIn(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	a := p.Addr().As4()
	mask := net.CIDRMask(p.Bits(), 32)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

func drop() expr.Any   { return &expr.Verdict{Kind: expr.VerdictDrop} }
func accept() expr.Any { return &expr.Verdict{Kind: expr.VerdictAccept} }
