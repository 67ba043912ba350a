package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
)

// Group is a schedule group as the Scheduler API shows it.
type Group struct {
	Arn                  string  `json:"Arn"`
	Name                 string  `json:"Name"`
	State                string  `json:"State"`
	CreationDate         float64 `json:"CreationDate"`
	LastModificationDate float64 `json:"LastModificationDate"`
}

func (s *Scheduler) group(name string, created float64) Group {
	return Group{
		Arn:  "arn:aws:scheduler:" + s.d.Region + ":000000000000:schedule-group/" + name,
		Name: name, State: "ACTIVE", CreationDate: created, LastModificationDate: created,
	}
}

// CreateGroup adds a schedule group.
func (s *Scheduler) CreateGroup(ctx context.Context, name string) (Group, error) {
	if !validName(name) {
		return Group{}, validation("Invalid schedule group name %q.", name)
	}
	exists := &fault.Error{Kind: fault.Conflict, Message: fmt.Sprintf("Schedule group %s already exists.", name)}
	if name == "default" {
		return Group{}, exists
	}
	created := epoch(s.d.Now())
	b, _ := json.Marshal(created)
	rev, err := s.kv.Create(ctx, "g/"+name, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Group{}, exists
	}
	if err != nil {
		return Group{}, fmt.Errorf("scheduler: save group %s: %w", name, err)
	}
	s.revs.Wait(rev)
	return s.group(name, created), nil
}

// GetGroup returns a schedule group.
func (s *Scheduler) GetGroup(name string) (Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	created, ok := s.groups[name]
	if !ok {
		return Group{}, &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule group %s does not exist.", name)}
	}
	return s.group(name, created), nil
}

// Groups lists the schedule groups by name.
func (s *Scheduler) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groups))
	for name, created := range s.groups {
		out = append(out, s.group(name, created))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DeleteGroup removes a schedule group and its schedules. The default
// group cannot be deleted.
func (s *Scheduler) DeleteGroup(ctx context.Context, name string) error {
	if name == "default" {
		return validation("The default schedule group cannot be deleted.")
	}
	for _, sc := range s.List(name, "", "") {
		if err := s.Delete(ctx, name, sc.Name); err != nil {
			return err
		}
	}
	s.mu.Lock()
	_, ok := s.groups[name]
	s.mu.Unlock()
	if !ok {
		return &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule group %s does not exist.", name)}
	}
	if err := s.remove(ctx, "g/"+name, 0); err != nil {
		return fmt.Errorf("scheduler: delete group %s: %w", name, err)
	}
	return nil
}
