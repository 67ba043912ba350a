package invoker

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/sandbox"
)

// layersDir returns the directory holding cfg's layers merged, or "" when
// the function has none.
func (iv *Invoker) layersDir(ctx context.Context, cfg *function.Config) (string, error) {
	if len(cfg.Layers) == 0 {
		return "", nil
	}
	if iv.d.Layers == nil {
		return "", errNoLayers
	}
	arns := make([]string, len(cfg.Layers))
	for i, l := range cfg.Layers {
		arns[i] = l.Arn
	}
	return iv.d.Layers(ctx, arns)
}

var errNoLayers = function.Errorf(fault.Internal, "ServiceException", "This server keeps no layers; the function's layers cannot be mounted.")

// layerEnv adds to a runtime's extra variables the search paths Lambda
// sets for layers: /opt/bin on PATH, /opt/lib on LD_LIBRARY_PATH,
// /opt/python and its site-packages for Python, /opt/nodejs/node_modules
// and /opt/nodejs/nodeNN/node_modules for Node.js, ahead of what the
// runtime set. Under a driver that mounts the layers at /opt
// (sandbox.OptMounter) the paths name /opt; under the others, the merged
// directory on the host.
func (iv *Invoker) layerEnv(cfg *function.Config, codeDir, dir string, extra []string) []string {
	if dir == "" {
		return extra
	}
	opt := dir
	if m, ok := iv.d.Driver.(sandbox.OptMounter); ok && m.MountsOpt() {
		opt = "/opt"
	}
	out := make([]string, 0, len(extra)+4)
	prepend := func(key, value string) {
		for i, kv := range out {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				out[i] = key + "=" + value + ":" + v
				return
			}
		}
		out = append(out, key+"="+value)
	}
	out = append(out, extra...)
	out = append(out, "PATH=/usr/local/bin:/usr/bin:/bin:"+filepath.Join(opt, "bin"))
	prepend("LD_LIBRARY_PATH", codeDir+":"+filepath.Join(codeDir, "lib")+":"+filepath.Join(opt, "lib"))
	rt := cfg.Runtime
	switch function.RuntimeFamily(rt) {
	case function.Python:
		// python3.12 -> /opt/python/lib/python3.12/site-packages
		prepend("PYTHONPATH", filepath.Join(opt, "python", "lib", rt, "site-packages")+":"+filepath.Join(opt, "python"))
	case function.Node:
		// nodejs20.x -> /opt/nodejs/node20/node_modules
		major := strings.TrimSuffix(strings.TrimPrefix(rt, "nodejs"), ".x")
		prepend("NODE_PATH", filepath.Join(opt, "nodejs", "node"+major, "node_modules")+":"+filepath.Join(opt, "nodejs", "node_modules"))
	}
	return out
}

// layerTemplate returns t for an instance with the layers in dir (""
// for none): a template process, started before the layers are there,
// takes on their search paths with the instance's environment (the
// bootstraps apply PYTHONPATH and NODE_PATH then), except the dynamic
// loader's, which reads LD_LIBRARY_PATH only as a process starts; layers
// with a lib directory get a fresh process.
func layerTemplate(dir string, t *sandbox.Template) *sandbox.Template {
	if dir == "" || t == nil {
		return t
	}
	if _, err := os.Stat(filepath.Join(dir, "lib")); err == nil {
		return nil
	}
	return t
}
