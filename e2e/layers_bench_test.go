package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// BenchmarkColdStartLayers measures cold starts of a Python function with
// five layers (each a package of 20 modules under python/, all imported)
// against a function with none, both started from template processes,
// and against a fresh interpreter. The first start with a given list of
// layers also merges them; later starts reuse the merge.
func BenchmarkColdStartLayers(b *testing.B) {
	srv := alofttest.Start(b)
	c := srv.Lambda()
	code := alofttest.ZipFiles(b, map[string]string{"app.py": "import json\ndef handler(e, c):\n    return {'ok': True}\n"})
	var arns []string
	for i := range 5 {
		var entries []layerEntry
		for j := range 20 {
			entries = append(entries, layerEntry{name: fmt.Sprintf("python/pkg%d/mod%d.py", i, j), body: fmt.Sprintf("VALUE = %d\n", j)})
		}
		entries = append(entries, layerEntry{name: fmt.Sprintf("python/pkg%d/__init__.py", i), body: ""})
		out, err := c.PublishLayerVersion(context.Background(), &lambda.PublishLayerVersionInput{
			LayerName: aws.String(fmt.Sprintf("bench%d", i)), Content: layerContentOf(layerZip(b, entries...))})
		if err != nil {
			b.Fatal(err)
		}
		arns = append(arns, aws.ToString(out.LayerVersionArn))
	}
	importing := alofttest.ZipFiles(b, map[string]string{"app.py": "import pkg0, pkg1, pkg2, pkg3, pkg4\nfrom pkg4 import mod19\n" +
		"def handler(e, c):\n    return {'ok': mod19.VALUE}\n"})
	createB(b, c, "cold-none", "python3.11", "app.handler", code)
	createB(b, c, "cold-none-fresh", "python3.11", "app.handler", code, "PYTHONNOUSERSITE=1")
	createB(b, c, "cold-layers", "python3.11", "app.handler", importing)
	if _, err := c.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("cold-layers"), Layers: arns}); err != nil {
		b.Fatal(err)
	}
	b.Run("none", func(b *testing.B) { benchCold(b, srv, c, "cold-none", 1) })
	b.Run("none-fresh", func(b *testing.B) { benchCold(b, srv, c, "cold-none-fresh", 1) })
	b.Run("layers5", func(b *testing.B) { benchCold(b, srv, c, "cold-layers", 1) })
}
