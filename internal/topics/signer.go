package topics

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The public paths the server answers for subscribers, without a
// signature: the certificate that verifies messages, and the links
// messages carry to confirm and to end a subscription.
const (
	CertPath        = "/sns/signing-cert.pem"
	ConfirmPath     = "/sns/confirm"
	UnsubscribePath = "/sns/unsubscribe"
)

// signer signs the messages delivered to subscribers as SNS does, with a
// key and self-signed certificate made at the first start and kept in
// the bucket, so that every node signs alike.
type signer struct {
	key  *rsa.PrivateKey
	cert []byte // PEM
}

func loadSigner(ctx context.Context, kv jetstream.KeyValue) (*signer, error) {
	if e, err := kv.Get(ctx, signingKey); err == nil {
		return parseSigner(e.Value())
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("topics: read the signing key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("topics: make a signing key: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "sns.aloft.local"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(20, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("topics: make a signing certificate: %w", err)
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	doc := fmt.Appendf(nil, `{"key":%q,"cert":%q}`, base64.StdEncoding.EncodeToString(pk),
		base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	if _, err := kv.Create(ctx, signingKey, doc); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("topics: store the signing key: %w", err)
	}
	e, err := kv.Get(ctx, signingKey) // another node's, if it was first
	if err != nil {
		return nil, fmt.Errorf("topics: read the signing key: %w", err)
	}
	return parseSigner(e.Value())
}

func parseSigner(b []byte) (*signer, error) {
	var doc struct{ Key, Cert string }
	if err := jsonUnmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("topics: the signing key is damaged: %w", err)
	}
	der, err := base64.StdEncoding.DecodeString(doc.Key)
	if err != nil {
		return nil, fmt.Errorf("topics: the signing key is damaged: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	key, ok := k.(*rsa.PrivateKey)
	if err != nil || !ok {
		return nil, errors.New("topics: the signing key is damaged")
	}
	cert, err := base64.StdEncoding.DecodeString(doc.Cert)
	if err != nil {
		return nil, fmt.Errorf("topics: the signing certificate is damaged: %w", err)
	}
	return &signer{key: key, cert: cert}, nil
}

// Certificate returns the PEM certificate that verifies messages.
func (s *Service) Certificate() []byte { return s.signer.cert }

// sign signs the fields of a message as SNS does: each name and value on
// a line of its own, in the names' order, hashed with SHA1 (version 1)
// or SHA256 (version 2) and signed with RSA.
func (g *signer) sign(fields map[string]string, version string) (string, error) {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		b.WriteString(k + "\n" + fields[k] + "\n")
	}
	var sig []byte
	var err error
	if version == "2" {
		sum := sha256.Sum256([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, g.key, crypto.SHA256, sum[:])
	} else {
		sum := sha1.Sum([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, g.key, crypto.SHA1, sum[:])
	}
	if err != nil {
		return "", fmt.Errorf("topics: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// unsubscribeToken is the token of a subscription's UnsubscribeURL, so
// that only who got a message can use it.
func (g *signer) unsubscribeToken(arn string) string {
	mac := hmac.New(sha256.New, g.key.D.Bytes())
	mac.Write([]byte("unsubscribe " + arn))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// UnsubscribeByLink ends the subscription an UnsubscribeURL names, when
// its token is right.
func (s *Service) UnsubscribeByLink(ctx context.Context, arn, token string) error {
	if !hmac.Equal([]byte(token), []byte(s.signer.unsubscribeToken(arn))) {
		return invalid("Token")
	}
	id, err := SubscriptionID(arn)
	if err != nil {
		return err
	}
	return s.Unsubscribe(ctx, id)
}
