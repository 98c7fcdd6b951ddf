// Package config embeds the shipped configuration tree (this folder's
// shared/, orchestration/ and worker/ TOML files) so that a binary run
// outside the repository still has its base and environment files.
//
// It holds data only. Loading, merging and validation live in
// github.com/tasker-go/tasker/shared/config, which reads [Files] when it is
// given no config root. The package sits here, beside the files, because
// //go:embed cannot reach into a parent directory.
package config

import "embed"

// Files is the shipped configuration tree, rooted at this folder: paths look
// like "shared/base.toml" and "worker/environments/test.toml". The patterns
// are explicit so that a missing file fails the build rather than the
// service at start-up.
//
//go:embed shared/base.toml shared/environments/*.toml
//go:embed orchestration/base.toml orchestration/environments/*.toml
//go:embed worker/base.toml worker/environments/*.toml
var Files embed.FS
