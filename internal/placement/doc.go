// Package placement decides where an invocation runs on a cluster of
// Aloft nodes, and holds the account's and functions' concurrency limits
// for the cluster as a whole.
//
// Every node can run every function: code and configuration are in the
// backbone. What a node cannot see alone is where a function is warm.
// Placement gives each node that view and uses it:
//
//   - The directory. Every 100 ms (Deps.Interval) each node sums up its
//     invoker: for each pool (a function's $LATEST or a version, at a
//     revision) how many idle and provisioned instances it has, how many
//     invocations of each function run, and how many of functions without
//     a reservation. When the summary changed since the last one, or a
//     second has passed, the node publishes it as a NATS core message on
//     aloft.placement.summary.<node>, which every node subscribes to; after
//     a cold start on the node it looks again at once, so that the others
//     learn of the new instance before they start their own. The
//     directory is soft state: it is never written to disk or replicated,
//     costs no JetStream write (a KV bucket would cost a replicated write
//     per node several times a second), and a lost message is corrected
//     by the next. A node not heard from for Deps.TTL (three seconds) is
//     forgotten; the live nodes, sorted by name, are the cluster's members.
//     A starting node asks on aloft.placement.hello and every node answers
//     with its summary at once.
//
//   - Forwarding. An invocation runs here when this node has an idle
//     instance of its pool at its revision that no other invocation
//     arriving here has claimed. Otherwise, when another node
//     advertises one, the invocation is sent to that node with a NATS
//     request on aloft.placement.invoke.<node> and runs there; otherwise
//     it runs here, starting an instance. The forward carries the
//     function's name, version and revision, the payload and what the
//     caller asked (client context, log tail, trace header, region,
//     invoked ARN, request id), never credentials: the caller was
//     authenticated and authorized by the node it called, and the
//     backbone's routes, which carry the forward, take only nodes that
//     hold the cluster's secret (the embedded server's only client port
//     is on loopback and needs a token only the node knows). The
//     receiver answers "started" at once, then the response: payload,
//     function error, log tail, version and request id, or the error
//     the caller is to see. A forward that is not started (no node
//     listens, no answer within a second, the receiver holds another
//     revision) or whose node is forgotten while it runs runs here
//     instead, once. Streamed responses (Request.Stream) always run
//     here.
//
//   - Cluster-wide concurrency. A limit L (the account's unreserved
//     concurrency, a function's reserved concurrency) is divided among the
//     N members by Share: node i of the sorted names gets L/N, plus one if
//     i < L mod N. Each node enforces its share on what runs on it, so the
//     shares add up to L. A node whose share is used up forwards the
//     invocation to a member whose advertised count leaves room in its
//     share (or, when every summary says all are full, to the one least
//     over its share, since summaries lag and the member decides), and
//     throttles (429) only when that one does too. Provisioned
//     concurrency is split the same way (ShareOf): each node keeps its
//     share of a version's instances ready, and reports the cluster's
//     total from the summaries, which carry each pool's provisioned
//     instances. Keep-alive budgets stay per node. While membership changes (a node joined or
//     was forgotten, up to TTL) nodes may disagree on N for a moment: the
//     shares may then add up to somewhat more or less than L.
//
// A node alone builds no Placer: its invocations go straight to its
// invoker, at no cost. On a cluster, the environment variable
// ALOFT_PLACEMENT=local (app.PlacementEnv) builds none either: every
// invocation runs on the node it arrived at, within that node's own
// limits, as before placement; it is a knob for measurements.
package placement
