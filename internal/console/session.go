package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// session is one signed-in browser.
type session struct {
	id      string // the cookie's value: 256 random bits, hex
	csrf    string // the token every state-changing call carries
	keyID   string // the access key id the person signed in with
	who     Identity
	created time.Time
	expires time.Time // created + the session lifetime, or the credentials' end if sooner
	used    time.Time // last request; guarded by sessions.mu
}

// sessions holds the signed-in browsers, at most max of them; when full,
// a new sign-in pushes out the one used longest ago.
type sessions struct {
	life, idle time.Duration
	max        int
	now        func() time.Time

	mu   sync.Mutex
	byID map[string]*session // guarded by mu
}

func newSessions(life, idle time.Duration, max int, now func() time.Time) *sessions {
	return &sessions{life: life, idle: idle, max: max, now: now, byID: map[string]*session{}}
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// open starts a session for who, signed in with keyID.
func (s *sessions) open(keyID string, who Identity) *session {
	now := s.now()
	ss := &session{id: randomHex(32), csrf: randomHex(32), keyID: keyID, who: who,
		created: now, expires: now.Add(s.life), used: now}
	if c := who.Credentials; c.CanExpire && c.Expires.Before(ss.expires) {
		ss.expires = c.Expires
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	for len(s.byID) >= s.max {
		var oldest *session
		for _, o := range s.byID {
			if oldest == nil || o.used.Before(oldest.used) {
				oldest = o
			}
		}
		delete(s.byID, oldest.id)
	}
	s.byID[ss.id] = ss
	return ss
}

// get returns the live session with id and marks it used, or nil.
func (s *sessions) get(id string) *session {
	if len(id) != 64 {
		return nil
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[id]
	if ss == nil {
		return nil
	}
	if !now.Before(ss.expires) || now.Sub(ss.used) >= s.idle {
		delete(s.byID, id)
		return nil
	}
	ss.used = now
	return ss
}

// close ends the session with id.
func (s *sessions) close(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// len returns how many sessions are held, live or not yet swept.
func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// sweep drops ended sessions; s.mu is held.
func (s *sessions) sweep(now time.Time) {
	for id, ss := range s.byID {
		if !now.Before(ss.expires) || now.Sub(ss.used) >= s.idle {
			delete(s.byID, id)
		}
	}
}

// checkCSRF reports whether token is the session's CSRF token.
func (ss *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ss.csrf)) == 1
}

// Identity is who a session acts as and what it signs with: for the
// root, the root keys themselves (kept in server memory only); for an
// IAM user, session credentials minted at sign-in.
type Identity struct {
	Name        string // "root", or the IAM user's name
	ARN         string
	Credentials aws.Credentials
}
