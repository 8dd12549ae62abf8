// Package config owns vigil's configuration: the typed Config struct with its
// defaults and validation rules, and the loader that layers command-line
// flags, VIGIL_* environment variables and a YAML file over those defaults.
//
// Only this package and cmd/ know about viper, pflag and YAML. The rest of
// vigil receives a plain, validated Config. docs/configuration.md is the
// operator-facing reference for every key.
package config
