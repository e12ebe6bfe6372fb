package release

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// ImageName is the image name deploy/operator's Deployment refers to; its
// kustomization.yaml maps it to the published repository and tag.
const ImageName = "canary"

// InstallManifest is `kubectl kustomize dir` with the image ImageName set
// to repository:tag: every object of the kustomization in one YAML stream,
// the file a release publishes as canary-operator.yaml. With repository
// empty the kustomization's own images stay (`kubectl kustomize dir`).
func InstallManifest(dir, repository, tag string) ([]byte, error) {
	fs := filesys.MakeFsInMemory()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if e.Name() == "kustomization.yaml" && repository != "" {
			if data, err = setImage(data, repository, tag); err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(dir, e.Name()), err)
			}
		}
		if err := fs.WriteFile(filepath.Join("/k", e.Name()), data); err != nil {
			return nil, err
		}
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/k")
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	return res.AsYaml()
}

// setImage replaces the kustomization's images with one entry mapping
// ImageName to repository:tag.
func setImage(kustomization []byte, repository, tag string) ([]byte, error) {
	var k map[string]any
	if err := yaml.Unmarshal(kustomization, &k); err != nil {
		return nil, err
	}
	k["images"] = []any{map[string]any{"name": ImageName, "newName": repository, "newTag": tag}}
	return yaml.Marshal(k)
}
