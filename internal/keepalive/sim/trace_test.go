package sim

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"
)

// dayCSV builds a trace file whose rows give, per function, the counts of
// the first minutes of the day; the other minutes are zero.
func dayCSV(header string, rows ...string) string {
	var b strings.Builder
	if header == "" {
		header = "HashOwner,HashApp,HashFunction,Trigger"
		for m := 1; m <= MinutesPerDay; m++ {
			header += fmt.Sprintf(",%d", m)
		}
	}
	b.WriteString(header + "\n")
	for _, r := range rows {
		fields := strings.Split(r, ",")
		b.WriteString(r)
		for range len(headerFields) + MinutesPerDay - len(fields) {
			b.WriteString(",0")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestReadDays(t *testing.T) {
	tr := new(Trace)
	day1 := dayCSV("", "o1,a1,f1,http,3,0,1", "o1,a1,f2,timer,0,0,0,2")
	day2 := dayCSV("", "o1,a1,f2,timer,1", "o2,a2,f3,queue,0,5")
	if err := tr.ReadDay(strings.NewReader(day1), "d1"); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(day2))
	zw.Close()
	if err := tr.ReadDay(&gz, "d2.gz"); err != nil {
		t.Fatal(err)
	}
	if tr.Minutes != 2*MinutesPerDay || tr.Days() != 2 || len(tr.Functions) != 3 || tr.Invocations() != 12 {
		t.Fatalf("trace: %d minutes, %d functions, %d invocations", tr.Minutes, len(tr.Functions), tr.Invocations())
	}
	f2 := tr.Functions[1]
	if f2.Name != "f2" || f2.Trigger != "timer" ||
		fmt.Sprint(f2.Minutes, f2.Counts) != fmt.Sprint([]int32{3, MinutesPerDay}, []uint32{2, 1}) {
		t.Errorf("f2 = %+v", f2)
	}

	var out bytes.Buffer
	if err := tr.WriteDay(&out, 1); err != nil {
		t.Fatal(err)
	}
	back := new(Trace)
	if err := back.ReadDay(&out, "written"); err != nil {
		t.Fatal(err)
	}
	if len(back.Functions) != 2 || back.Invocations() != 6 || back.Functions[0].Name != "f2" {
		t.Errorf("day 2 written and read back: %d functions, %d invocations", len(back.Functions), back.Invocations())
	}
	if err := tr.WriteDay(&out, 2); err == nil {
		t.Error("writing a day past the end did not fail")
	}
}

func TestReadMalformed(t *testing.T) {
	shortHeader := "HashOwner,HashApp,HashFunction,Trigger,1,2,3"
	swapped := strings.Replace(dayCSV(""), ",1,2,3,", ",1,3,2,", 1)
	cases := []struct {
		name, data, want string
	}{
		{"empty", "", "bad.csv: empty file, want a header"},
		{"wrong names", strings.Replace(dayCSV(""), "HashApp", "App", 1),
			"bad.csv: line 1: header must start with HashOwner,HashApp,HashFunction,Trigger"},
		{"too few minutes", shortHeader + "\n", "bad.csv: line 1: header has 7 columns, want 1444"},
		{"minutes out of order", swapped, `bad.csv: line 1: header column 6 is "3", want minute 2`},
		{"non-numeric count", dayCSV("", "o,a,f,http,1,x"),
			`bad.csv: line 2: minute 2: count "x" is not a non-negative integer`},
		{"negative count", dayCSV("", "o,a,f,http", "o,a,g,http,0,0,-4"),
			`bad.csv: line 3: minute 3: count "-4" is not a non-negative integer`},
		{"fractional count", dayCSV("", "o,a,f,http,1.5"),
			`bad.csv: line 2: minute 1: count "1.5" is not a non-negative integer`},
		{"short row", dayCSV("") + "o,a,f,http,1,2\n", "bad.csv: line 2: 6 columns, want 1444"},
		{"empty hash", dayCSV("", ",a,f,http"), "bad.csv: line 2: empty HashOwner"},
		{"bad quoting", dayCSV("") + "o,\"a,f\n", "bad.csv: "},
		{"not gzip", "\x1f\x8bnot really", "bad.csv: "},
	}
	for _, c := range cases {
		err := new(Trace).ReadDay(strings.NewReader(c.data), "bad.csv")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestReadFilesErrors(t *testing.T) {
	if _, err := ReadFiles(); err == nil {
		t.Error("no files: no error")
	}
	if _, err := ReadFiles("does/not/exist.csv"); err == nil {
		t.Error("missing file: no error")
	}
}

func TestDuplicateRowsAreAdded(t *testing.T) {
	tr := new(Trace)
	data := dayCSV("", "o,a,f,http,1,0,0,4", "o,a,f,http,2,0,3")
	if err := tr.ReadDay(strings.NewReader(data), "dup"); err != nil {
		t.Fatal(err)
	}
	f := tr.Functions[0]
	if len(tr.Functions) != 1 ||
		fmt.Sprint(f.Minutes, f.Counts) != fmt.Sprint([]int32{0, 2, 3}, []uint32{3, 3, 4}) {
		t.Errorf("functions %+v", tr.Functions)
	}
}
