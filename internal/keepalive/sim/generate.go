package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/rand/v2"
)

// GenOptions configures the synthetic trace generator.
type GenOptions struct {
	// Functions is the number of functions (default 200).
	Functions int
	// Days is the length of the trace (default 1).
	Days int
	// Day is the day (from 0) that Generate writes; the trace format holds
	// one day per file, so a multi-day trace takes one call per day with
	// the same options otherwise.
	Day int
	// Seed makes the trace; the same options give the same trace.
	Seed uint64
}

func (o GenOptions) withDefaults() GenOptions {
	if o.Functions == 0 {
		o.Functions = 200
	}
	if o.Days == 0 {
		o.Days = 1
	}
	return o
}

// Generate writes day opts.Day of the synthetic trace described by opts.
func Generate(w io.Writer, opts GenOptions) error {
	t, err := Synthesize(opts)
	if err != nil {
		return err
	}
	return t.WriteDay(w, opts.Day)
}

// The mean invocation rate of a function follows a Pareto distribution,
// P(rate > x) = (rateScale/x)^rateShape for x >= rateScale, fitted so that
// 45% of functions are invoked at most once an hour on average and 80% at
// most once a minute, as observed in the Azure workload. The shape is
// ln(0.55/0.20)/ln(1440/24) and the scale 24*0.55^(1/shape) a day.
var (
	rateShape = math.Log(0.55/0.20) / math.Log(MinutesPerDay/24.0)
	rateScale = 24 * math.Pow(0.55, 1/rateShape)
)

// maxPerDay caps the rate at 50 a minute (reached by about 8% of
// functions) to keep traces small.
const maxPerDay = 50 * MinutesPerDay

// drawRate draws a mean rate in invocations per day from a Pareto
// distribution whose shape and scale put 45% of functions at or below one
// invocation an hour and 80% at or below one a minute.
func drawRate(rng *rand.Rand) float64 {
	return rateScale / math.Pow(1-rng.Float64(), 1/rateShape)
}

// timerPeriods are the periods, in minutes, that timer functions use.
var timerPeriods = []int{1, 2, 3, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440}

// Synthesize builds a synthetic trace. Each function gets a mean rate drawn
// from a heavy-tailed (Pareto) distribution and one of three patterns:
//   - timer (30%): fires every k minutes, k the common period closest to its
//     mean rate, from a random phase; 1% of firings are missed;
//   - Poisson (45%, HTTP and other triggers): a Poisson process whose rate
//     follows a daily sine wave of random depth and phase;
//   - bursty (25%, queue, event, storage and orchestration triggers): bursts
//     of a log-normal number of invocations spread over 1 to 5 minutes, the
//     bursts arriving as a Poisson process.
//
// Every function is invoked at least once. Each function draws from its own
// random stream, so adding functions leaves the earlier ones unchanged.
func Synthesize(opts GenOptions) (*Trace, error) {
	opts = opts.withDefaults()
	switch {
	case opts.Functions < 0 || opts.Functions > 10_000_000:
		return nil, errors.New("sim: functions must be between 1 and 10000000")
	case opts.Days < 0 || opts.Days > 366:
		return nil, errors.New("sim: days must be between 1 and 366")
	case opts.Day < 0 || opts.Day >= opts.Days:
		return nil, errors.New("sim: day is outside the trace")
	}
	minutes := opts.Days * MinutesPerDay
	t := &Trace{Minutes: minutes}
	counts := make([]uint32, minutes)
	var owner, app string
	for i := range opts.Functions {
		rng := rand.New(rand.NewPCG(opts.Seed, uint64(i)))
		// Group functions into apps (three functions on average) and apps
		// into owners (two apps on average), as the dataset nests its
		// hashes.
		if app == "" || rng.IntN(3) == 0 {
			if owner == "" || rng.IntN(2) == 0 {
				owner = hash(opts.Seed, "owner", i)
			}
			app = hash(opts.Seed, "app", i)
		}
		perDay := math.Min(drawRate(rng), maxPerDay)
		perMinute := perDay / MinutesPerDay
		clear(counts)
		var trigger string
		switch p := rng.Float64(); {
		case p < 0.30:
			trigger = "timer"
			genTimer(rng, counts, perMinute)
		case p < 0.75:
			trigger = pick(rng, []string{"http", "http", "http", "http", "others"})
			genPoisson(rng, counts, perMinute)
		default:
			trigger = pick(rng, []string{"queue", "queue", "event", "storage", "orchestration"})
			genBursty(rng, counts, perMinute)
		}
		f := t.function(owner, app, hash(opts.Seed, "function", i), trigger)
		for m, c := range counts {
			f.add(int32(m), c)
		}
		if len(f.Minutes) == 0 {
			f.add(int32(rng.IntN(minutes)), 1)
		}
	}
	return t, nil
}

func genTimer(rng *rand.Rand, counts []uint32, perMinute float64) {
	period := timerPeriods[0]
	if perMinute > 0 {
		want := math.Log(1 / perMinute)
		for _, p := range timerPeriods {
			if math.Abs(math.Log(float64(p))-want) < math.Abs(math.Log(float64(period))-want) {
				period = p
			}
		}
	}
	each := uint32(max(1, math.Round(perMinute*float64(period))))
	for m := rng.IntN(period); m < len(counts); m += period {
		if rng.Float64() >= 0.01 {
			counts[m] += each
		}
	}
}

func genPoisson(rng *rand.Rand, counts []uint32, perMinute float64) {
	depth := 0.8 * rng.Float64()
	phase := 2 * math.Pi * rng.Float64()
	for m := range counts {
		day := 2 * math.Pi * float64(m%MinutesPerDay) / MinutesPerDay
		counts[m] += poisson(rng, perMinute*(1+float64(depth*math.Sin(day+phase))))
	}
}

func genBursty(rng *rand.Rand, counts []uint32, perMinute float64) {
	size := math.Exp(math.Log(20) + rng.NormFloat64())
	size = math.Max(2, math.Min(size, perMinute*MinutesPerDay))
	burstsPerMinute := perMinute / size
	for m := range counts {
		if rng.Float64() >= burstsPerMinute {
			continue
		}
		span := 1 + rng.IntN(5)
		for k := range span {
			if m+k < len(counts) {
				counts[m+k] += poisson(rng, size/float64(span))
			}
		}
		counts[m]++ // a burst has at least one invocation
	}
}

// poisson draws from a Poisson distribution with mean lambda, using a
// normal approximation for large means.
func poisson(rng *rand.Rand, lambda float64) uint32 {
	switch {
	case lambda <= 0:
		return 0
	case lambda > 30:
		return uint32(max(0, math.Round(lambda+float64(math.Sqrt(lambda)*rng.NormFloat64()))))
	}
	limit, p := math.Exp(-lambda), 1.0
	var n uint32
	for {
		p *= rng.Float64()
		if p <= limit {
			return n
		}
		n++
	}
}

func pick(rng *rand.Rand, s []string) string { return s[rng.IntN(len(s))] }

// hash makes a dataset-like 64-hex-digit name.
func hash(seed uint64, kind string, i int) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(i))
	sum := sha256.Sum256(append(b[:], kind...))
	return hex.EncodeToString(sum[:])
}
