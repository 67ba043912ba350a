package aesgcm

import (
	"encoding/binary"
	"sync"
)

// sbox is AES's S-box, made on first use: the multiplicative inverse in
// GF(2^8) (from tables of the powers of 3, which generates the field's
// multiplicative group) followed by the affine map.
var sbox = sync.OnceValue(func() (s [256]byte) {
	var exp, log [256]byte
	x := byte(1)
	for i := range 255 {
		exp[i], log[x] = x, byte(i)
		x ^= x<<1 ^ (x>>7)*0x1b // x times 3
	}
	rotl := func(x byte, n uint) byte { return x<<n | x>>(8-n) }
	for i := range 256 {
		var inv byte
		if i != 0 {
			inv = exp[(255-int(log[i]))%255]
		}
		s[i] = inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63
	}
	return s
})

// expand256 returns the fifteen round keys of AES-256 for key, as
// FIPS 197 lays them out byte by byte.
func expand256(key []byte) (rk [15][16]byte) {
	var w [60]uint32
	for i := range 8 {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	sb := sbox()
	sub := func(x uint32) uint32 {
		return uint32(sb[x>>24])<<24 | uint32(sb[x>>16&0xff])<<16 | uint32(sb[x>>8&0xff])<<8 | uint32(sb[x&0xff])
	}
	rcon := uint32(1)
	for i := 8; i < 60; i++ {
		t := w[i-1]
		switch i % 8 {
		case 0:
			t = sub(t<<8|t>>24) ^ rcon<<24
			rcon <<= 1
		case 4:
			t = sub(t)
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
