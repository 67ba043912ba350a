package aesgcm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"math/rand/v2"
	"testing"
)

// std returns crypto/cipher's AES-GCM for key.
func std(t testing.TB, key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// needWide skips a test of the vector code on a processor without it.
func needWide(t testing.TB) {
	if !wide {
		t.Skip("this processor lacks AVX2, VAES or VPCLMULQDQ: the vector Open is not used here")
	}
}

// checkSame opens what crypto/cipher sealed with both implementations,
// then tampered copies, and compares.
func checkSame(t *testing.T, rng *rand.Rand, key, nonce, plain, aad []byte) {
	t.Helper()
	g, s := mustNew(t, key), std(t, key)
	sealed := s.Seal(nil, nonce, plain, aad)
	for _, prefix := range [][]byte{nil, []byte("kept")} {
		got, err := g.Open(bytes.Clone(prefix), nonce, sealed, aad)
		if err != nil || !bytes.Equal(got, append(bytes.Clone(prefix), plain...)) {
			t.Fatalf("%d bytes, %d of additional data: Open = %x, %v; want %x", len(plain), len(aad), got, err, plain)
		}
	}
	// In place, from any alignment.
	off := rng.IntN(8)
	inPlace := append(make([]byte, off), sealed...)[off:]
	if got, err := g.Open(inPlace[:0], nonce, inPlace, aad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%d bytes in place at offset %d: %v", len(plain), off, err)
	}
	// Any flipped bit, of the ciphertext, the tag or the additional data,
	// or another nonce, fails, and the output is cleared.
	bad := bytes.Clone(sealed)
	i := rng.IntN(len(bad))
	bad[i] ^= 1 << rng.IntN(8)
	dst := make([]byte, 0, len(plain))
	if _, err := g.Open(dst, nonce, bad, aad); err == nil {
		t.Fatalf("%d bytes: a flipped bit at %d opened", len(plain), i)
	}
	if out := dst[:len(plain)]; len(plain) > 0 && !bytes.Equal(out, make([]byte, len(plain))) {
		t.Fatalf("%d bytes: a failed Open left plaintext behind", len(plain))
	}
	bad = append(make([]byte, off), bad...)[off:]
	if _, err := g.Open(bad[:0], nonce, bad, aad); err == nil {
		t.Fatalf("%d bytes in place: a flipped bit opened", len(plain))
	}
	if out := bad[:len(plain)]; len(plain) > 0 && !bytes.Equal(out, make([]byte, len(plain))) {
		t.Fatalf("%d bytes in place: a failed Open left plaintext behind", len(plain))
	}
	if len(aad) > 0 {
		a := bytes.Clone(aad)
		a[rng.IntN(len(a))] ^= 0x80
		if _, err := g.Open(nil, nonce, sealed, a); err == nil {
			t.Fatalf("%d bytes: altered additional data opened", len(plain))
		}
	}
	n := bytes.Clone(nonce)
	n[11] ^= 1
	if _, err := g.Open(nil, n, sealed, aad); err == nil {
		t.Fatalf("%d bytes: another nonce opened", len(plain))
	}
}

func mustNew(t testing.TB, key []byte) cipher.AEAD {
	g, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Every length up to a few chunks, and lengths around the ones objects
// use, opens as crypto/cipher's does, with additional data of every
// length up to three blocks.
func TestSameAsCryptoCipher(t *testing.T) {
	needWide(t)
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	lengths := []int{}
	for n := 0; n <= 3*256+2*blockSize; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range []int{4096, 65535, 65536, 65537, 1 << 20} {
		lengths = append(lengths, n-256-1, n-1, n, n+1, n+blockSize+3)
	}
	for _, n := range lengths {
		checkSame(t, rng, random(32), random(12), random(n), random(rng.IntN(7*blockSize)))
	}
}

// Misuse panics or fails as crypto/cipher's does, with its messages.
func TestMisuseAsCryptoCipher(t *testing.T) {
	needWide(t)
	key := bytes.Repeat([]byte{5}, 32)
	g, s := mustNew(t, key), std(t, key)
	nonce := make([]byte, 12)
	aad := bytes.Repeat([]byte{9}, 40)
	sealed := s.Seal(nil, nonce, bytes.Repeat([]byte{1}, 300), aad)
	panicOf := func(f func()) (msg any) {
		defer func() { msg = recover() }()
		f()
		return nil
	}
	cases := map[string]func(a cipher.AEAD) (any, error){
		"short nonce": func(a cipher.AEAD) (any, error) {
			var err error
			return panicOf(func() { _, err = a.Open(nil, nonce[:8], sealed, aad) }), err
		},
		"output at the tag": func(a cipher.AEAD) (any, error) {
			c := bytes.Clone(sealed)
			var err error
			return panicOf(func() { _, err = a.Open(c[len(c)-16:len(c)-16], nonce, c, aad) }), err
		},
		"output one byte on": func(a cipher.AEAD) (any, error) {
			c := bytes.Clone(sealed)
			var err error
			return panicOf(func() { _, err = a.Open(c[1:1], nonce, c, aad) }), err
		},
		"output over the additional data": func(a cipher.AEAD) (any, error) {
			buf := make([]byte, 400)
			copy(buf, aad)
			var err error
			return panicOf(func() { _, err = a.Open(buf[10:10], nonce, sealed, buf[:len(aad)]) }), err
		},
		"shorter than a tag": func(a cipher.AEAD) (any, error) {
			var err error
			return panicOf(func() { _, err = a.Open(nil, nonce, sealed[:15], aad) }), err
		},
	}
	for name, f := range cases {
		p1, err1 := f(g)
		p2, err2 := f(s)
		if p1 != p2 || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Errorf("%s: panic %v, error %v; crypto/cipher: panic %v, error %v", name, p1, err1, p2, err2)
		}
	}
}

func TestRefusesOtherKeys(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was taken", n)
		}
	}
}

// What is sealed by either opens with either.
func FuzzOpen(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 32), []byte("nonce-twelve"), []byte("plaintext"), []byte{1})
	f.Add(bytes.Repeat([]byte{2}, 32), []byte("0123456789ab"), bytes.Repeat([]byte("x"), 300), []byte{})
	f.Fuzz(func(t *testing.T, key, nonce, plain, aad []byte) {
		if len(key) != 32 || len(nonce) != 12 {
			return
		}
		g, s := mustNew(t, key), std(t, key)
		sealed := s.Seal(nil, nonce, plain, aad)
		got, err := g.Open(nil, nonce, sealed, aad)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %x, %v; want %x", got, err, plain)
		}
		// Opening what is not a sealed message fails as crypto/cipher's does.
		_, err1 := g.Open(nil, nonce, plain, aad)
		_, err2 := s.Open(nil, nonce, plain, aad)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("opening the plaintext: %v, crypto/cipher %v", err1, err2)
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	key := bytes.Repeat([]byte{3}, 32)
	for _, impl := range []struct {
		name string
		g    cipher.AEAD
	}{{"crypto-cipher", std(b, key)}, {"wide", mustNew(b, key)}} {
		for _, n := range []int{4096, 65536} {
			b.Run(impl.name+"/"+byteSize(n), func(b *testing.B) {
				if impl.name == "wide" {
					needWide(b)
				}
				nonce := make([]byte, 12)
				sealed := impl.g.Seal(nil, nonce, make([]byte, n), []byte{1})
				out := make([]byte, n)
				b.SetBytes(int64(n))
				for b.Loop() {
					if _, err := impl.g.Open(out[:0], nonce, sealed, []byte{1}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkNew(b *testing.B) {
	key := bytes.Repeat([]byte{3}, 32)
	for b.Loop() {
		if _, err := New(key); err != nil {
			b.Fatal(err)
		}
	}
}

func byteSize(n int) string {
	if n >= 1024 {
		return string(rune('0'+n/1024/10%10)) + string(rune('0'+n/1024%10)) + "KiB"
	}
	return "B"
}
