package expect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// feedConn is a connection whose reads return data in the pieces of
// the given sizes (cycled), then io.EOF; with timeouts, every so many
// reads fail with a deadline passing instead.
type feedConn struct {
	net.Conn
	data     []byte
	pieces   []int
	k        int
	timeouts int
	reads    int
}

// errDeadline is what a read returns when its deadline passes.
var errDeadline error = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}

func (f *feedConn) Read(p []byte) (int, error) {
	if f.reads++; f.timeouts > 0 && f.reads%f.timeouts == 0 {
		return 0, errDeadline
	}
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	n := len(f.data)
	if len(f.pieces) > 0 {
		n = min(n, f.pieces[f.k%len(f.pieces)])
		f.k++
	}
	n = copy(p, f.data[:min(n, len(p))])
	f.data = f.data[n:]
	return n, nil
}

// through passes data through a Conn, read in pieces from the
// connection and with reads of the sizes in bufs (cycled).
func through(t testing.TB, data []byte, pieces, bufs []int) []byte {
	t.Helper()
	return throughConn(t, &feedConn{data: data, pieces: pieces}, bufs)
}

// throughConn reads all of f through a Conn, with reads of the sizes in
// bufs (cycled), reading on after a deadline.
func throughConn(t testing.TB, f *feedConn, bufs []int) []byte {
	t.Helper()
	c := NewConn(f)
	limit := 10*len(f.data) + 100
	var out []byte
	for k := 0; ; k++ {
		p := make([]byte, bufs[k%len(bufs)])
		n, err := c.Read(p)
		out = append(out, p[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal(err)
		}
		if k > limit {
			t.Fatal("no progress")
		}
	}
}

// splits are the read patterns each case goes through.
var splits = []struct{ pieces, bufs []int }{
	{nil, []int{4096}},
	{[]int{1}, []int{4096}},
	{[]int{1}, []int{1}},
	{[]int{2, 3, 5}, []int{7, 1, 4096}},
	{[]int{4096}, []int{3}},
	{[]int{13, 1, 600}, []int{4096, 2}},
}

func checkAll(t *testing.T, in, want string) {
	t.Helper()
	for _, sp := range splits {
		if got := string(through(t, []byte(in), sp.pieces, sp.bufs)); got != want {
			t.Fatalf("pieces %v, reads %v:\n in: %q\ngot: %q\nwant: %q", sp.pieces, sp.bufs, in, got, want)
		}
	}
}

func TestRewrite(t *testing.T) {
	const put = "PUT /b/k HTTP/1.1\r\nHost: h\r\n"
	tests := []struct{ name, in, want string }{
		{"101-continue", put + "Expect: 101-continue\r\nContent-Length: 1\r\n\r\nx",
			put + "X-Pect: 101-continue\r\nContent-Length: 1\r\n\r\nx"},
		{"100-continue kept", put + "Expect: 100-continue\r\nContent-Length: 1\r\n\r\nx", ""},
		{"100-CONTINUE kept", put + "expect:100-CONTINUE \r\nContent-Length: 1\r\n\r\nx", ""},
		{"in a list", put + "Expect: foo, 100-continue\r\n\r\n", ""},
		{"not the token", put + "EXPECT: 100-continues\r\n\r\n", put + "X-Pect: 100-continues\r\n\r\n"},
		{"empty value kept", put + "Expect: \r\nExpect: 200\r\n\r\n", ""},
		{"the first decides", put + "Expect: 200\r\nX: y\r\nexpect: 100-continue\r\n\r\n",
			put + "X-Pect: 200\r\nX: y\r\nX-Pect: 100-continue\r\n\r\n"},
		{"the first keeps", put + "Expect: 100-continue\r\nExpect: 200\r\n\r\n", ""},
		{"bare LF lines", "GET / HTTP/1.1\nExpect: 1\nHost: h\n\n", "GET / HTTP/1.1\nX-Pect: 1\nHost: h\n\n"},
		{"last line", put + "Expect: 1\r\n\r\n", put + "X-Pect: 1\r\n\r\n"},
		{"near names", put + "Expec: 1\r\nExpected: 1\r\nE: 1\r\n\r\n", ""},
		{"body untouched", put + "Content-Length: 26\r\n\r\n\r\nExpect: x\r\n\r\nExpect: y\r\n" + put + "Expect: z\r\n\r\n",
			put + "Content-Length: 26\r\n\r\n\r\nExpect: x\r\n\r\nExpect: y\r\n" + put + "X-Pect: z\r\n\r\n"},
		{"chunked", put + "Transfer-Encoding: chunked\r\nExpect: a\r\n\r\n" +
			"d;e=1\r\n\r\nExpect: x\r\n\r\n0\r\nExpect: t\r\n\r\n" + put + "Expect: b\r\n\r\n",
			put + "Transfer-Encoding: chunked\r\nX-Pect: a\r\n\r\n" +
				"d;e=1\r\n\r\nExpect: x\r\n\r\n0\r\nExpect: t\r\n\r\n" + put + "X-Pect: b\r\n\r\n"},
		{"chunk size with space", put + "Transfer-Encoding: Chunked \r\n\r\n1 \r\nE\r\n0\r\n\r\n" + put + "Expect: b\r\n\r\n",
			put + "Transfer-Encoding: Chunked \r\n\r\n1 \r\nE\r\n0\r\n\r\n" + put + "X-Pect: b\r\n\r\n"},
		// Given up: what follows passes unchanged.
		{"HTTP/1.0", "GET / HTTP/1.0\r\nExpect: 1\r\n\r\n", ""},
		{"upgrade", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n" + put + "Expect: 1\r\n\r\n", ""},
		{"upgrade after", "GET / HTTP/1.1\r\nExpect: 1\r\nUpgrade: x\r\n\r\n" + put + "Expect: 1\r\n\r\n",
			"GET / HTTP/1.1\r\nX-Pect: 1\r\nUpgrade: x\r\n\r\n" + put + "Expect: 1\r\n\r\n"},
		{"folded expect", put + "Expect: 1\r\n 100-continue\r\n\r\n", ""},
		{"folded other", put + "X: 1\r\n 2\r\n\r\n" + put + "Expect: 1\r\n\r\n", ""},
		{"length and chunked", put + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + put + "Expect: 1\r\n\r\n", ""},
		{"two lengths", put + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + put + "Expect: 1\r\n\r\n", ""},
		{"gzip", put + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + put + "Expect: 1\r\n\r\n", ""},
		{"bad length", put + "Content-Length: +3\r\n\r\nabc" + put + "Expect: 1\r\n\r\n", ""},
		{"connect", "CONNECT h:443 HTTP/1.1\r\nExpect: 1\r\n\r\n", ""},
		{"space before colon", put + "Expect : 1\r\n\r\n", ""},
		{"bare CR", put + "X: a\rb\r\nExpect: 1\r\n\r\n", ""},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ""},
		{"TLS", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03Expect: 1\r\n\r\n", ""},
		{"bare LF chunk", put + "Transfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n" + put + "Expect: 1\r\n\r\n", ""},
		{"longest expect", put + "Expect: " + strings.Repeat("a", holdMax-11) + "\r\n\r\n",
			put + "X-Pect: " + strings.Repeat("a", holdMax-11) + "\r\n\r\n"},
		{"too long an expect", put + "Expect: " + strings.Repeat("a", holdMax-10) + "\r\n\r\n" + put + "Expect: 1\r\n\r\n", ""},
		{"cut short", put + "Expect: 1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = tc.in
			}
			checkAll(t, tc.in, want)
		})
	}
}

// request is one generated request: its bytes and those the wrapper
// should make of them.
type script struct {
	b []byte
	i int
}

func (s *script) pick(n int) int {
	if s.i >= len(s.b) {
		return 0
	}
	s.i++
	return int(s.b[s.i-1]) % n
}

// generate makes a sequence of well-formed pipelined requests from sc,
// and what the wrapper should turn it into.
func generate(sc *script) (in, want []byte) {
	expectValues := []string{"100-continue", "100-CONTINUE", "101-continue", "", "foo, 100-continue",
		"100-continuex", "x;100-continue", "200", " \t100-Continue\t"}
	expectNames := []string{"Expect", "expect", "EXPECT", "eXpEcT"}
	others := []string{"Host: h", "X-Amz-Date: 20260101T000000Z", "Expec: 1", "Expected: 2", "E: 3",
		"X-Pect-Other: 4", "Content-Type: text/plain"}
	filler := []string{"\r\nExpect: x\r\n", "\r\n\r\nGET / HTTP/1.1\r\nExpect: 101\r\n\r\n", "0\r\n\r\n", "abc", "\n\n"}
	for r := 0; r < 1+sc.pick(6); r++ {
		eol := "\r\n"
		if sc.pick(5) == 0 {
			eol = "\n"
		}
		in = append(in, []string{"GET", "PUT", "POST", "DELETE"}[sc.pick(4)]...)
		in = append(in, " /b/k?x=1 HTTP/1.1"+eol...)
		var names []int // where the head's Expect names start
		decision := undecided
		bodyKind := sc.pick(3)
		var body []byte
		for range 1 + sc.pick(4) {
			body = append(body, filler[sc.pick(len(filler))]...)
		}
		for h := 0; h < sc.pick(6); h++ {
			if sc.pick(2) == 0 {
				in = append(in, others[sc.pick(len(others))]+eol...)
				continue
			}
			v := expectValues[sc.pick(len(expectValues))]
			if decision == undecided {
				decision = keep
				if strings.TrimSpace(v) != "" && !tokenIn(v) {
					decision = rename
				}
			}
			names = append(names, len(in))
			in = append(in, expectNames[sc.pick(len(expectNames))]+":"+v+eol...)
		}
		switch bodyKind {
		case 1:
			in = fmt.Appendf(in, "Content-Length: %d%s%s", len(body), eol, eol)
			in = append(in, body...)
		case 2:
			in = append(in, "Transfer-Encoding: chunked"+eol+eol...)
			for len(body) > 0 {
				n := min(len(body), 1+sc.pick(20))
				in = fmt.Appendf(in, "%x", n)
				if sc.pick(3) == 0 {
					in = append(in, ";ext=\"a b\"\r\n"...)
				} else {
					in = append(in, "\r\n"...)
				}
				in = append(in, body[:n]...)
				in = append(in, "\r\n"...)
				body = body[n:]
			}
			in = append(in, "0\r\n"...)
			if sc.pick(2) == 0 {
				in = append(in, "Expect: t\r\nX-Sum: 1\r\n"...)
			}
			in = append(in, "\r\n"...)
		default:
			in = append(in, eol...)
		}
		out := bytes.Clone(in[len(want):])
		if decision == rename {
			for _, at := range names {
				copy(out[at-len(want):], PrivateName)
			}
		}
		want = append(want, out...)
	}
	return in, want
}

// tokenIn is net/http's test for 100-continue, written independently.
func tokenIn(v string) bool {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		if strings.EqualFold(f, "100-continue") {
			return true
		}
	}
	return false
}

// randomSplits draws read patterns from seed.
func randomSplits(seed int64) (pieces, bufs []int) {
	rng := rand.New(rand.NewSource(seed))
	for range 1 + rng.Intn(8) {
		pieces = append(pieces, 1+rng.Intn([]int{2, 8, 64, 5000}[rng.Intn(4)]))
		bufs = append(bufs, 1+rng.Intn([]int{2, 16, 600, 4096}[rng.Intn(4)]))
	}
	return pieces, bufs
}

// FuzzExpectRewrite checks, for requests generated from the input, that
// the wrapper changes exactly the Expect names it should, whatever the
// read pattern; and for the input taken as a raw stream, that the read
// pattern changes nothing and that every change is an Expect name
// turned into PrivateName.
func FuzzExpectRewrite(f *testing.F) {
	f.Add([]byte{}, int64(0))
	f.Add([]byte("\x05\x01\x02\x03\x01\x01\x02\x04\x05\x00\x01\x02\x01\x03\x02"), int64(1))
	f.Add([]byte("\x03\x00\x01\x02\x02\x01\x02\x01\x07\x01\x03\x01\x02\x00"), int64(2))
	f.Add([]byte("PUT /b/k HTTP/1.1\r\nExpect: 101-continue\r\nContent-Length: 13\r\n\r\n\r\nExpect: x\r\n"), int64(3))
	f.Add([]byte("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nExpect: t\r\n\r\nGET / HTTP/1.1\r\nexpect: 1\r\n\r\n"), int64(4))
	f.Fuzz(func(t *testing.T, data []byte, seed int64) {
		in, want := generate(&script{b: data})
		pieces, bufs := randomSplits(seed)
		if got := through(t, in, pieces, bufs); !bytes.Equal(got, want) {
			t.Fatalf("pieces %v, reads %v:\n in: %q\ngot: %q\nwant: %q", pieces, bufs, in, got, want)
		}
		timeouts := 2 + int(uint64(seed)%5)
		if got := throughConn(t, &feedConn{data: in, pieces: pieces, timeouts: timeouts}, bufs); !bytes.Equal(got, want) {
			t.Fatalf("pieces %v, reads %v, deadline every %d reads:\n in: %q\ngot: %q\nwant: %q", pieces, bufs, timeouts, in, got, want)
		}
		whole := through(t, data, nil, []int{1 << 16})
		if got := through(t, data, pieces, bufs); !bytes.Equal(got, whole) {
			t.Fatalf("raw, pieces %v, reads %v:\n in: %q\ngot: %q\nwhole: %q", pieces, bufs, data, got, whole)
		}
		if len(whole) != len(data) {
			t.Fatalf("raw: %d bytes out of %d", len(whole), len(data))
		}
		for i := 0; i < len(data); i++ {
			if whole[i] == data[i] {
				continue
			}
			if i+6 > len(data) || string(whole[i:i+6]) != PrivateName || !strings.EqualFold(string(data[i:i+6]), "expect") {
				t.Fatalf("raw: byte %d changed: %q", i, whole[max(0, i-20):min(len(whole), i+20)])
			}
			i += 5
		}
	})
}

// serve runs an http.Server with the wrapper and Restore in front of h
// and returns its address.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Restore(h), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestServer sends raw requests to a real net/http server behind the
// wrapper: Expect values it would refuse reach the handler as sent,
// 100-continue still gets its interim response, and bodies are intact.
func TestServer(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "expect=%q private=%q body=%q", r.Header.Values("Expect"), r.Header.Values(PrivateName), b)
	}))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(conn)
	read := func() string {
		t.Helper()
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	body := "\r\nExpect: x\r\n\r\n"
	// Two pipelined requests, then a third.
	fmt.Fprintf(conn, "PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 101-continue\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	fmt.Fprintf(conn, "PUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nexpect: 100-CONTINUE, x\r\n\r\n%x\r\n%s\r\n0\r\nExpect: t\r\n\r\n", len(body), body)
	if got, want := read(), `200 expect=["101-continue"] private=[] body="\r\nExpect: x\r\n\r\n"`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// The second asked for 100-continue: an interim 100 comes first.
	line, err := rd.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim response: %q, %v", line, err)
	}
	if blank, _ := rd.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after the interim response: %q", blank)
	}
	if got, want := read(), `200 expect=["100-CONTINUE, x"] private=[] body="\r\nExpect: x\r\n\r\n"`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	fmt.Fprintf(conn, "GET /c HTTP/1.1\r\nHost: h\r\nExpect: a\r\nX: 1\r\nEXPECT: 100-continue\r\n\r\n")
	if got, want := read(), `200 expect=["a" "100-continue"] private=[] body=""`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestServerWithoutWrapper shows what the wrapper is for: net/http
// alone refuses the same request.
func TestServerWithoutWrapper(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go srv.Serve(ln)
	defer srv.Close()
	req, _ := http.NewRequest("PUT", "http://"+ln.Addr().String()+"/a", strings.NewReader("x"))
	req.Header.Set("Expect", "101-continue")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusExpectationFailed {
		t.Fatalf("net/http alone answered %d", resp.StatusCode)
	}
}

func TestRestoreHeader(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header[PrivateName] = []string{"a", "b"}
	RestoreHeader(r)
	if got := r.Header.Values("Expect"); len(got) != 2 || got[0] != "a" || got[1] != "b" || r.Header.Get(PrivateName) != "" {
		t.Fatalf("restored: %v", r.Header)
	}
	// A request with an Expect of its own keeps both.
	r.Header[PrivateName] = []string{"c"}
	RestoreHeader(r)
	if got := r.Header.Values("Expect"); len(got) != 2 || r.Header.Get(PrivateName) != "c" {
		t.Fatalf("with Expect: %v", r.Header)
	}
}

// BenchmarkBody reads a 16 MiB body through the wrapper and without it.
func BenchmarkBody(b *testing.B) {
	body := make([]byte, 16<<20)
	head := fmt.Appendf(nil, "PUT /b/k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	data := append(head, body...)
	p := make([]byte, 32<<10)
	for _, wrapped := range []bool{false, true} {
		b.Run(fmt.Sprintf("wrapped=%v", wrapped), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var c net.Conn = &feedConn{data: data, pieces: []int{64 << 10}}
				if wrapped {
					c = NewConn(c)
				}
				for {
					if _, err := c.Read(p); err != nil {
						break
					}
				}
			}
		})
	}
}

// TestGenerated runs the fuzz test's checks on many random inputs,
// and makes sure they rename some heads and keep others.
func TestGenerated(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	renamed, kept := 0, 0
	for k := range 3000 {
		data := make([]byte, rng.Intn(200))
		rng.Read(data)
		in, want := generate(&script{b: data})
		pieces, bufs := randomSplits(int64(k))
		if got := through(t, in, pieces, bufs); !bytes.Equal(got, want) {
			t.Fatalf("pieces %v, reads %v:\n in: %q\ngot: %q\nwant: %q", pieces, bufs, in, got, want)
		}
		if got := throughConn(t, &feedConn{data: in, pieces: pieces, timeouts: 2 + k%4}, bufs); !bytes.Equal(got, want) {
			t.Fatalf("pieces %v, reads %v, deadline every %d reads:\n in: %q\ngot: %q\nwant: %q", pieces, bufs, 2+k%4, in, got, want)
		}
		renamed += bytes.Count(want, []byte(PrivateName+":"))
		kept += bytes.Count(bytes.ToLower(want), []byte("\nexpect:100-continue"))
	}
	if renamed < 100 || kept < 100 {
		t.Fatalf("%d renamed, %d kept: the generator hardly tries", renamed, kept)
	}
}
