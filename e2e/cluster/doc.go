// Package cluster holds the end-to-end tests of several aloft servers run
// as the nodes of one cluster: real server processes on loopback or in
// network namespaces, used through the AWS SDK, stopped, killed, cut off
// and restarted.
package cluster
