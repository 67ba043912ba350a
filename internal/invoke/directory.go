package invoke

import "github.com/aloft-dev/aloft/internal/invoker"

// PoolIdle is how many idle instances one pool (a function's $LATEST or
// a version) of this node's invoker has, for a cluster's directory of
// warm instances.
type PoolIdle = invoker.PoolIdle
