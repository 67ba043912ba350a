// Package sim replays invocation traces against keep-alive policies and
// compares their cold starts and idle memory-time, as in the evaluation of
// "Serverless in the Wild" (Shahrad et al., USENIX ATC 2020).
//
// Traces use the format of the Azure Functions 2019 public dataset: one CSV
// file per day whose header is
//
//	HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440
//
// and whose rows give, per function, the number of invocations in each
// minute of the day. Files may be gzip-compressed. Several files are read
// as consecutive days.
//
// ReplayExec describes the simulation model and Synthesize the synthetic
// traces. Run and Generate are the entry points for the command line.
package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// MinutesPerDay is the number of count columns in one trace file.
const MinutesPerDay = 1440

// headerFields are the columns before the per-minute counts.
var headerFields = [...]string{"HashOwner", "HashApp", "HashFunction", "Trigger"}

// Trace holds per-minute invocation counts of many functions.
type Trace struct {
	// Minutes is the length of the trace.
	Minutes int
	// Functions are in order of first appearance.
	Functions []*Function

	index map[fnKey]*Function
}

// Function is one function of a trace. Only minutes with invocations are
// stored, so rarely invoked functions cost little memory.
type Function struct {
	// Owner, App and Name are the dataset's hashes, Trigger the trigger
	// type (http, timer, queue, ...).
	Owner, App, Name, Trigger string
	// Minutes lists the minutes with invocations, ascending, counted from
	// the start of the trace; Counts holds the invocations in each.
	Minutes []int32
	Counts  []uint32
}

type fnKey struct{ owner, app, name string }

// Invocations returns the number of invocations of f.
func (f *Function) Invocations() int64 {
	var n int64
	for _, c := range f.Counts {
		n += int64(c)
	}
	return n
}

// Invocations returns the number of invocations in t.
func (t *Trace) Invocations() int64 {
	var n int64
	for _, f := range t.Functions {
		n += f.Invocations()
	}
	return n
}

// Days returns the number of days t covers, rounding up.
func (t *Trace) Days() int { return (t.Minutes + MinutesPerDay - 1) / MinutesPerDay }

// function returns the function with the given identity, adding it if new.
func (t *Trace) function(owner, app, name, trigger string) *Function {
	if t.index == nil {
		t.index = make(map[fnKey]*Function)
	}
	k := fnKey{owner, app, name}
	if f := t.index[k]; f != nil {
		return f
	}
	f := &Function{Owner: owner, App: app, Name: name, Trigger: trigger}
	t.index[k] = f
	t.Functions = append(t.Functions, f)
	return f
}

// add records n invocations of f at minute m.
func (f *Function) add(m int32, n uint32) {
	if n == 0 {
		return
	}
	k := len(f.Minutes)
	if k == 0 || f.Minutes[k-1] < m {
		f.Minutes = append(f.Minutes, m)
		f.Counts = append(f.Counts, n)
		return
	}
	// Out of order: only when a function is listed twice in a day.
	i, found := slices.BinarySearch(f.Minutes, m)
	if found {
		f.Counts[i] += n
		return
	}
	f.Minutes = slices.Insert(f.Minutes, i, m)
	f.Counts = slices.Insert(f.Counts, i, n)
}

// ReadFiles reads trace files as consecutive days, in the order given.
func ReadFiles(paths ...string) (*Trace, error) {
	if len(paths) == 0 {
		return nil, errors.New("sim: no trace files")
	}
	t := new(Trace)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		err = t.ReadDay(f, p)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// ReadDay appends one day read from r to t; name labels errors. A gzip
// stream is recognised by its magic bytes. The same function (by owner, app
// and function hash) on several days is one function of the trace; a
// function listed twice in a day has its counts added.
func (t *Trace) ReadDay(r io.Reader, name string) error {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	if err := t.readCSV(br, name); err != nil {
		return err
	}
	t.Minutes += MinutesPerDay
	return nil
}

func (t *Trace) readCSV(r io.Reader, name string) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return fmt.Errorf("%s: empty file, want a header", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := checkHeader(header); err != nil {
		return fmt.Errorf("%s: line 1: %w", name, err)
	}
	base := int32(t.Minutes)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				return fmt.Errorf("%s: line %d: %d columns, want %d",
					name, pe.StartLine, len(rec), len(headerFields)+MinutesPerDay)
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		for i, h := range headerFields[:3] {
			if rec[i] == "" {
				return fmt.Errorf("%s: line %d: empty %s", name, line, h)
			}
		}
		f := t.function(rec[0], rec[1], rec[2], rec[3])
		for m, s := range rec[len(headerFields):] {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return fmt.Errorf("%s: line %d: minute %d: count %q is not a non-negative integer",
					name, line, m+1, s)
			}
			f.add(base+int32(m), uint32(n))
		}
	}
}

func checkHeader(h []string) error {
	want := len(headerFields) + MinutesPerDay
	if len(h) > 0 {
		h[0] = strings.TrimPrefix(h[0], "\ufeff")
	}
	for i, name := range headerFields {
		if i >= len(h) || !strings.EqualFold(strings.TrimSpace(h[i]), name) {
			return fmt.Errorf("header must start with %s", strings.Join(headerFields[:], ","))
		}
	}
	if len(h) != want {
		return fmt.Errorf("header has %d columns, want %d (4 names and minutes 1 to %d)",
			len(h), want, MinutesPerDay)
	}
	for m, s := range h[len(headerFields):] {
		if strings.TrimSpace(s) != strconv.Itoa(m+1) {
			return fmt.Errorf("header column %d is %q, want minute %d", len(headerFields)+m+1, s, m+1)
		}
	}
	return nil
}

// WriteDay writes day (counting from 0) of t in the trace format. Functions
// without invocations that day are left out.
func (t *Trace) WriteDay(w io.Writer, day int) error {
	if day < 0 || day >= t.Days() {
		return fmt.Errorf("sim: day %d is outside the trace (%d days)", day, t.Days())
	}
	bw := bufio.NewWriter(w)
	var line bytes.Buffer
	line.WriteString(strings.Join(headerFields[:], ","))
	for m := 1; m <= MinutesPerDay; m++ {
		line.WriteByte(',')
		line.WriteString(strconv.Itoa(m))
	}
	line.WriteByte('\n')
	if _, err := bw.Write(line.Bytes()); err != nil {
		return err
	}
	lo, hi := int32(day*MinutesPerDay), int32((day+1)*MinutesPerDay)
	counts := make([]uint32, MinutesPerDay)
	for _, f := range t.Functions {
		clear(counts)
		seen := false
		for i, m := range f.Minutes {
			if m >= lo && m < hi {
				counts[m-lo] += f.Counts[i]
				seen = true
			}
		}
		if !seen {
			continue
		}
		line.Reset()
		for _, s := range []string{f.Owner, f.App, f.Name, f.Trigger} {
			writeField(&line, s)
			line.WriteByte(',')
		}
		for i, c := range counts {
			if i > 0 {
				line.WriteByte(',')
			}
			line.WriteString(strconv.FormatUint(uint64(c), 10))
		}
		line.WriteByte('\n')
		if _, err := bw.Write(line.Bytes()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeField writes s, quoted if CSV needs it.
func writeField(b *bytes.Buffer, s string) {
	if !strings.ContainsAny(s, ",\"\r\n") {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `""`))
	b.WriteByte('"')
}
