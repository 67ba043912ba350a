package route

import (
	"fmt"
	"net/url"
	"strings"
)

// Param is one path parameter of a match, percent-decoded.
type Param struct {
	Name  string
	Value string
}

// Match is the route a request matched.
type Match[V any] struct {
	Key    string  // the route key as written
	Value  V       // what Add stored with the key
	Params []Param // path parameters in the order of the key
}

// Table maps route keys to values of type V. The zero value is an empty
// table. Add may not be called once the table is shared; Match may be
// called from any number of goroutines.
type Table[V any] struct {
	root node[V]
	def  *entry[V]
	n    int
}

type node[V any] struct {
	lit    map[string]*node[V] // children by decoded literal
	param  *node[V]            // the child for a {name} segment
	end    methods[V]          // routes whose path ends here
	greedy methods[V]          // routes whose last segment, after this node, is {name+}
}

// methods holds the routes of one path, by method.
type methods[V any] struct {
	by  [len(methodNames)]*entry[V]
	any *entry[V]
}

func (m *methods[V]) pick(i int) *entry[V] {
	if i >= 0 && m.by[i] != nil {
		return m.by[i]
	}
	return m.any
}

func (m *methods[V]) slot(method string) **entry[V] {
	if i := methodIndex(method); i >= 0 {
		return &m.by[i]
	}
	return &m.any
}

type entry[V any] struct {
	key   string
	names []string // parameter names in path order; the greedy one last
	value V
}

// Len returns the number of routes in t, $default included.
func (t *Table[V]) Len() int { return t.n }

// Add adds the route key with its value. It fails when the key does not
// parse, or when a route already in the table would serve exactly the same
// requests (the same key, or the same path shape with other parameter
// names).
func (t *Table[V]) Add(key string, v V) error {
	k, err := ParseKey(key)
	if err != nil {
		return err
	}
	e := &entry[V]{key: key, value: v}
	if k.IsDefault() {
		if t.def != nil {
			return fmt.Errorf("route %q already exists", DefaultKey)
		}
		t.def = e
		t.n++
		return nil
	}
	n := &t.root
	set := &n.end
	for i, s := range k.Segments {
		switch s.Kind {
		case KindLiteral:
			if n.lit == nil {
				n.lit = map[string]*node[V]{}
			}
			c := n.lit[s.Text]
			if c == nil {
				c = &node[V]{}
				n.lit[s.Text] = c
			}
			n = c
		case KindParam:
			if n.param == nil {
				n.param = &node[V]{}
			}
			n = n.param
			e.names = append(e.names, s.Text)
		case KindGreedy:
			e.names = append(e.names, s.Text)
			if i != len(k.Segments)-1 {
				return invalid("%q: the greedy parameter must be the last segment", key)
			}
		}
		if s.Kind == KindGreedy {
			set = &n.greedy
		} else {
			set = &n.end
		}
	}
	slot := set.slot(k.Method)
	if *slot != nil {
		if (*slot).key == key {
			return fmt.Errorf("route %q already exists", key)
		}
		return fmt.Errorf("route %q conflicts with route %q: both serve the same requests", key, (*slot).key)
	}
	*slot = e
	t.n++
	return nil
}

// Match finds the route for a request's method and escaped path (as
// url.URL.EscapedPath gives it). It appends the match's parameters to
// buf, which may be nil; pass a buffer with room for a few parameters to
// match without allocating.
func (t *Table[V]) Match(method, path string, buf []Param) (Match[V], bool) {
	mi := methodIndex(method)
	if strings.HasPrefix(path, "/") {
		rest := path
		if rest == "/" {
			rest = ""
		}
		raw := buf[:0]
		if e := t.root.match(rest, mi, &raw); e != nil {
			params := raw
			for i := range params {
				params[i].Name = e.names[i]
				params[i].Value = decode(params[i].Value)
			}
			return Match[V]{Key: e.key, Value: e.value, Params: params}, true
		}
	}
	if t.def != nil {
		return Match[V]{Key: t.def.key, Value: t.def.value, Params: buf[:0]}, true
	}
	return Match[V]{}, false
}

// match matches rest, which is empty or starts with '/', below n. It
// tries a literal child, then a parameter, then a greedy parameter, and
// returns the first route that serves the method. The raw (still escaped)
// values of parameters are appended to params.
func (n *node[V]) match(rest string, mi int, params *[]Param) *entry[V] {
	if rest == "" {
		return n.end.pick(mi)
	}
	seg := rest[1:]
	after := ""
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg, after = seg[:i], seg[i:]
	}
	if n.lit != nil && seg != "" {
		if c := n.lit[decode(seg)]; c != nil {
			if e := c.match(after, mi, params); e != nil {
				return e
			}
		}
	}
	if n.param != nil && seg != "" {
		k := len(*params)
		*params = append(*params, Param{Value: seg})
		if e := n.param.match(after, mi, params); e != nil {
			return e
		}
		*params = (*params)[:k]
	}
	if len(rest) > 1 {
		if e := n.greedy.pick(mi); e != nil {
			*params = append(*params, Param{Value: rest[1:]})
			return e
		}
	}
	return nil
}

// decode percent-decodes a path segment; a segment with a malformed escape
// is kept as sent. Without a '%' it returns s and allocates nothing.
func decode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	d, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return d
}
