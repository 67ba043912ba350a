// Package egress gives sandboxed function instances Lambda's network:
// outbound connections to the internet, and nothing of the host.
//
// Each instance runs in a network namespace of its own (the linux sandbox
// driver makes it). Attach connects one namespace to the host with a veth
// pair: the host's end is named "aloft" and a number, the namespace's end
// "eth0", and the two ends share a /30 of 100.64.0.0/10 (the carrier-grade
// NAT range, which no LAN uses) chosen by that number. The interface name
// is the lock on the number: creating it fails when another server on the
// host already holds it, so servers never hand out the same addresses.
//
// One nftables table, "aloft" in the inet family, holds the policy for
// every such interface, whichever server made it:
//
//   - nothing from an instance reaches the host itself (input chain): no
//     loopback or LAN service, no API port, no other address of the host;
//   - nothing reaches an instance that it did not open (forward chain);
//   - an instance reaches the operator's allowed prefixes (Options.Allow),
//     the host's DNS servers (the non-loopback ones /etc/resolv.conf
//     names; New warns when it names only loopback ones, such as a local
//     stub resolver, which no instance reaches) on port 53, and any
//     public IPv4 address;
//     private, shared, loopback, link-local (cloud metadata at
//     169.254.169.254), multicast and reserved ranges, other instances and
//     IPv6 are dropped;
//   - what leaves is masqueraded behind the host's address.
//
// The host must forward IPv4 for that; where it did not, New turns
// forwarding on and the forward chain drops every forwarded packet that
// neither comes from nor goes to an instance, so the host routes nothing
// else than it did. The table stays when the server stops (it concerns
// only interfaces named aloft*, which vanish with their namespaces); each
// start replaces it whole.
package egress
