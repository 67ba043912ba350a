package aesgcm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
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
func checkSame(t *testing.T, key, nonce, plain, aad []byte) {
	t.Helper()
	g, s := mustNew(t, key), std(t, key)
	sealed := s.Seal(nil, nonce, plain, aad)
	for _, prefix := range [][]byte{nil, []byte("kept")} {
		got, err := g.Open(bytes.Clone(prefix), nonce, sealed, aad)
		if err != nil || !bytes.Equal(got, append(bytes.Clone(prefix), plain...)) {
			t.Fatalf("%d bytes, %d of additional data: Open = %x, %v; want %x", len(plain), len(aad), got, err, plain)
		}
	}
	inPlace := bytes.Clone(sealed)
	if got, err := g.Open(inPlace[:0], nonce, inPlace, aad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%d bytes in place: %v", len(plain), err)
	}
	// Any flipped bit, of the ciphertext, the tag or the additional data,
	// or another nonce, fails, and the output is cleared.
	bad := bytes.Clone(sealed)
	i := rand.IntN(len(bad))
	bad[i] ^= 1 << rand.IntN(8)
	dst := make([]byte, 0, len(plain))
	if _, err := g.Open(dst, nonce, bad, aad); err == nil {
		t.Fatalf("%d bytes: a flipped bit at %d opened", len(plain), i)
	}
	if out := dst[:len(plain)]; len(plain) > 0 && !bytes.Equal(out, make([]byte, len(plain))) {
		t.Fatalf("%d bytes: a failed Open left plaintext behind", len(plain))
	}
	if len(aad) > 0 {
		a := bytes.Clone(aad)
		a[rand.IntN(len(a))] ^= 0x80
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
	for n := 0; n <= 3*chunk+2*blockSize; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range []int{4096, 65535, 65536, 65537, 1 << 20} {
		lengths = append(lengths, n-chunk-1, n-1, n, n+1, n+blockSize+3)
	}
	for _, n := range lengths {
		checkSame(t, random(32), random(12), random(n), random(rng.IntN(3*blockSize+1)))
	}
}

// A counter near its 32-bit wrap wraps within the low 32 bits, as GCM's
// increment does, in the vector loop and after it.
func TestCounterWraps(t *testing.T) {
	needWide(t)
	key := bytes.Repeat([]byte{7}, 32)
	w := mustNew(t, key).(*wideGCM)
	for _, start := range []uint32{0xfffffffa, 0xffffffff, 0xfffffff0} {
		ctr := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, byte(start >> 24), byte(start >> 16), byte(start >> 8), byte(start)}
		src := bytes.Repeat([]byte{0xab}, 3*chunk)
		got := make([]byte, len(src))
		var acc [16]byte
		c := ctr
		openChunks(&w.keys, &w.htab, &c, &acc, &got[0], &src[0], 3)
		want := make([]byte, len(src))
		b, _ := aes.NewCipher(key)
		k := ctr
		var ks [16]byte
		for i := 0; i < len(src); i += blockSize {
			b.Encrypt(ks[:], k[:])
			for j := range ks {
				want[i+j] = src[i+j] ^ ks[j]
			}
			v := uint32(k[12])<<24 | uint32(k[13])<<16 | uint32(k[14])<<8 | uint32(k[15])
			v++
			k[12], k[13], k[14], k[15] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("counter from %#x: keystream differs", start)
		}
		if c != k {
			t.Fatalf("counter from %#x: left at %x, want %x", start, c, k)
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
