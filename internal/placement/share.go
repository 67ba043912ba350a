package placement

// Share returns node i's part of limit divided among n nodes: limit/n,
// plus one for the first limit mod n nodes, so that the parts add up to
// limit. A negative limit counts as zero; n below one as one node.
func Share(limit, i, n int) int {
	if limit <= 0 {
		return 0
	}
	if n < 1 {
		return limit
	}
	s := limit / n
	if i < limit%n {
		s++
	}
	return s
}
