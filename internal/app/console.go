package app

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/console"
	"github.com/aloft-dev/aloft/internal/iam"
)

// consoleLinks serves the web console under /console/ on the API
// listener: unsigned, since it signs people in with its own sessions,
// and calling the APIs through the same front door (s.api) as any
// client.
func (s *Server) consoleLinks() map[string]http.Handler {
	c := console.New(console.Deps{
		Lookup: s.lookup,
		SignIn: s.consoleSignIn,
		API: func() http.Handler {
			if h := s.api.Load(); h != nil {
				return *h
			}
			return nil
		},
		Host:   s.ln.Addr().String(),
		Region: awsproto.DefaultRegion,
		Logger: s.log.With("component", "console"),
	})
	return map[string]http.Handler{console.Path: c}
}

// consoleSignIn says who signs in to the console with access key id
// (whose secret the console has checked) and what the session signs
// with: the root keys for the root; for an IAM user, session
// credentials of their own, so the long-term secret is not kept.
func (s *Server) consoleSignIn(id string) (console.Identity, error) {
	if id == s.keys.AccessKeyID {
		return console.Identity{Name: "root", ARN: iam.Root.ARN, Credentials: aws.Credentials{AccessKeyID: s.keys.AccessKeyID, SecretAccessKey: s.keys.SecretAccessKey}}, nil
	}
	p, err := s.iam.Resolve(id, "")
	if err != nil {
		return console.Identity{}, err
	}
	cr, err := s.iam.SessionToken(p, console.DefaultLifetime)
	if err != nil {
		return console.Identity{}, err
	}
	return console.Identity{Name: p.Name, ARN: p.ARN, Credentials: aws.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken, CanExpire: true, Expires: cr.Expiration}}, nil
}
