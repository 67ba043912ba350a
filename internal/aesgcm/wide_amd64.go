//go:build amd64 && !purego

package aesgcm

import (
	"crypto/cipher"
	"crypto/fips140"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// wide reports whether the processor (and the operating system, which
// must save the 256-bit registers) has what the vector Open needs, and
// FIPS 140 mode, which must use crypto/cipher's, is off.
var wide = func() bool {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasAES || !cpu.X86.HasPCLMULQDQ || fips140.Enabled() {
		return false
	}
	_, ecx := cpuid7()
	const vaes, vpclmulqdq = 1 << 9, 1 << 10
	return ecx&vaes != 0 && ecx&vpclmulqdq != 0
}()

// chunk is the bytes one round of the vector loop opens.
const chunk = 16 * blockSize

// errOpen is crypto/cipher's message for a failed Open.
var errOpen = errors.New("cipher: message authentication failed")

// wideGCM is an AEAD whose Open runs the vector loop over whole chunks.
type wideGCM struct {
	cipher.AEAD // crypto/cipher's, for Seal and the sizes
	block       cipher.Block
	// keys holds the round keys, each twice, so that one 256-bit operand
	// applies a round to two blocks.
	keys [15][32]byte
	// htab holds H^16 … H^1, the powers of the hash key that the
	// sixteen blocks of a chunk are multiplied by, in the vector code's
	// form: byte-reversed and times x (see ghashBlocks).
	htab [16][16]byte
}

func newWide(g cipher.AEAD, b cipher.Block, key []byte) cipher.AEAD {
	w := &wideGCM{AEAD: g, block: b}
	for i, k := range expand256(key) {
		copy(w.keys[i][:16], k[:])
		copy(w.keys[i][16:], k[:])
	}
	var h [16]byte
	b.Encrypt(h[:], h[:])
	// H times x, in the byte-reversed form: the low 64 bits first.
	hi, lo := binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])
	carry := hi >> 63
	hi, lo = hi<<1|lo>>63, lo<<1
	if carry != 0 {
		hi ^= 0xc200000000000000
		lo ^= 1
	}
	last := len(w.htab) - 1
	binary.LittleEndian.PutUint64(w.htab[last][:8], lo)
	binary.LittleEndian.PutUint64(w.htab[last][8:], hi)
	// H^k is H^(k-1) hashed as a block with H: (0 xor X)·H.
	for k := last - 1; k >= 0; k-- {
		var prev, acc [16]byte
		reverse(&prev, &w.htab[k+1])
		ghashBlocks(&w.htab[last], &acc, &prev[0], 1)
		w.htab[k] = acc
	}
	return w
}

// reverse sets dst to src's bytes in reverse order.
func reverse(dst, src *[16]byte) {
	for i := range 16 {
		dst[i] = src[15-i]
	}
}

// Open opens ciphertext as crypto/cipher's GCM does, with the same
// errors and panics: dst may be ciphertext's memory from its start but
// must not otherwise overlap it, nor overlap additionalData at all; on
// failure the plaintext written is cleared.
func (w *wideGCM) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != nonceSize {
		panic("crypto/cipher: incorrect nonce length given to GCM")
	}
	if len(ciphertext) < tagSize {
		return nil, errOpen
	}
	if uint64(len(ciphertext)) > (1<<32-2)*blockSize+tagSize {
		return nil, errOpen
	}
	ret, out := sliceForAppend(dst, len(ciphertext)-tagSize)
	if inexactOverlap(out, ciphertext) {
		panic("crypto/cipher: invalid buffer overlap of output and input")
	}
	if anyOverlap(out, additionalData) {
		panic("crypto/cipher: invalid buffer overlap of output and additional data")
	}
	tag := [tagSize]byte(ciphertext[len(ciphertext)-tagSize:])
	ciphertext = ciphertext[:len(ciphertext)-tagSize]

	var j0, ctr, acc [16]byte
	copy(j0[:], nonce)
	j0[15] = 1
	ctr = j0
	ctr[15] = 2
	w.hash(&acc, additionalData)
	if n := len(ciphertext) / chunk; n > 0 {
		openChunks(&w.keys, &w.htab, &ctr, &acc, &out[0], &ciphertext[0], n)
	}
	done := len(ciphertext) / chunk * chunk
	w.hash(&acc, ciphertext[done:])
	var ks [16]byte
	for i := done; i < len(ciphertext); i += blockSize {
		w.block.Encrypt(ks[:], ctr[:])
		binary.BigEndian.PutUint32(ctr[12:], binary.BigEndian.Uint32(ctr[12:])+1)
		subtle.XORBytes(out[i:], ciphertext[i:min(i+blockSize, len(ciphertext))], ks[:])
	}
	var lengths [16]byte
	binary.BigEndian.PutUint64(lengths[:8], uint64(len(additionalData))*8)
	binary.BigEndian.PutUint64(lengths[8:], uint64(len(ciphertext))*8)
	ghashBlocks(&w.htab[len(w.htab)-1], &acc, &lengths[0], 1)

	var want, s [16]byte
	w.block.Encrypt(want[:], j0[:])
	reverse(&s, &acc)
	subtle.XORBytes(want[:], want[:], s[:])
	if subtle.ConstantTimeCompare(want[:], tag[:]) != 1 {
		clear(out)
		return nil, errOpen
	}
	return ret, nil
}

// hash adds p to the hash in acc, its last partial block padded with
// zeros.
func (w *wideGCM) hash(acc *[16]byte, p []byte) {
	if n := len(p) / blockSize; n > 0 {
		ghashBlocks(&w.htab[len(w.htab)-1], acc, &p[0], n)
		p = p[n*blockSize:]
	}
	if len(p) > 0 {
		var last [16]byte
		copy(last[:], p)
		ghashBlocks(&w.htab[len(w.htab)-1], acc, &last[0], 1)
	}
}

// sliceForAppend extends in by n bytes, returning the whole slice and
// the part added.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	return head, head[len(in):]
}

// anyOverlap reports whether x and y share memory.
func anyOverlap(x, y []byte) bool {
	return len(x) > 0 && len(y) > 0 &&
		uintptr(unsafe.Pointer(&x[0])) <= uintptr(unsafe.Pointer(&y[len(y)-1])) &&
		uintptr(unsafe.Pointer(&y[0])) <= uintptr(unsafe.Pointer(&x[len(x)-1]))
}

// inexactOverlap reports whether x and y share memory other than from
// the same start, which decrypting in place does.
func inexactOverlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 || &x[0] == &y[0] {
		return false
	}
	return anyOverlap(x, y)
}

// expand256 returns the fifteen round keys of AES-256 for key, as
// FIPS 197 lays them out byte by byte. Its S-box is the processor's
// (subWord), so that no table is indexed by the key.
func expand256(key []byte) (rk [15][16]byte) {
	var w [60]uint32
	for i := range 8 {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := uint32(1)
	for i := 8; i < 60; i++ {
		t := w[i-1]
		switch i % 8 {
		case 0:
			t = subWord(t<<8|t>>24) ^ rcon<<24
			rcon <<= 1
		case 4:
			t = subWord(t)
		}
		w[i] = w[i-8] ^ t
	}
	for r := range 15 {
		for j := range 4 {
			binary.BigEndian.PutUint32(rk[r][4*j:], w[4*r+j])
		}
	}
	return rk
}

// subWord applies AES's S-box to each byte of x.
//
//go:noescape
func subWord(x uint32) uint32

// cpuid7 returns EBX and ECX of CPUID leaf 7, sub-leaf 0.
//
//go:noescape
func cpuid7() (ebx, ecx uint32)

// openChunks decrypts n chunks of 256 bytes from src into dst in counter
// mode from the counter block ctr, and adds the ciphertext to the hash
// in acc, leaving in ctr the next counter block. dst may be src.
//
//go:noescape
func openChunks(keys *[15][32]byte, htab *[16][16]byte, ctr, acc *[16]byte, dst, src *byte, n int)

// ghashBlocks adds n blocks from p to the hash in acc with the hash key
// h. acc and h are byte-reversed (a block's last byte lowest), and h is
// the hash key times x, which spares each product a shift: with this
// form the carry-less product of acc and h reduced by the field's
// polynomial is the field product of acc and the hash key.
//
//go:noescape
func ghashBlocks(h, acc *[16]byte, p *byte, n int)
