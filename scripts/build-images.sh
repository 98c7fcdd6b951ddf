#!/usr/bin/env bash
# Builds the container images tasker and tasker-worker from static binaries
# built here (CGO_ENABLED=0), FROM scratch, with Debian's buildah as root on
# vfs storage: nothing is pulled from a registry.
#
#   scripts/build-images.sh [--tag TAG] [--install] [--smoke] [--ci] [--push-to REGISTRY] [--archive DIR]
#
#   --tag TAG        image tag (default: git describe, else dev)
#   --install        apt-get install buildah when missing
#   --smoke          run both images against $DATABASE_URL (default: the
#                    local PostgreSQL): migrate, start the server and a
#                    worker, and check /health/ready with each image's
#                    health check command. When this machine cannot run a
#                    container at all (the image's binary runs on the host
#                    but not inside it), it prints the error and skips the
#                    rest of the smoke test; any other failure fails.
#   --ci             what scripts/test.sh runs: --install --smoke with a tag
#                    of this run's own, and removes what it made when done
#                    (containers and images) and what earlier runs that
#                    died left behind, so the storage does not grow
#   --push-to REG    push both images to REG/tasker:TAG and REG/tasker-worker:TAG
#   --archive DIR    also write both images as docker-archive tarballs to DIR
#                    (`docker load -i DIR/tasker.tar`)
#
# Environment: BUILDAH_STORAGE_DRIVER (default vfs), BUILDAH_ISOLATION
# (default chroot: no user namespaces and no OCI runtime are needed).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "build-images: $*" >&2; }
die() { log "$*"; exit 1; }
began=$SECONDS
stage() { log "$* (at $((SECONDS - began))s)"; }
done_log() {
  if [ "$ci" = 1 ]; then
    log "done in $((SECONDS - began))s; removing the images it built (--ci)"
  else
    log "done in $((SECONDS - began))s: localhost/tasker:$tag localhost/tasker-worker:$tag"
  fi
}

tag="" install=0 smoke=0 ci=0 push="" archive=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --install) install=1; shift ;;
    --smoke) smoke=1; shift ;;
    --ci) ci=1 install=1 smoke=1; shift ;;
    --push-to) push=${2:?--push-to needs a registry}; shift 2 ;;
    --archive) archive=${2:?--archive needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if [ "$ci" = 1 ]; then
  [ -z "$tag" ] || die "--ci uses a tag of its own; leave out --tag"
  [ -z "$push" ] || die "--ci removes its images; leave out --push-to"
  tag="ci-$$"
fi

if [ -z "$tag" ]; then
  tag=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    die "need root to run: $*"; fi
}
need() { # <command> <package>
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$install" = 1 ] || die "$1 not found: install Debian's $2 (apt-get install $2) or pass --install"
  command -v apt-get >/dev/null 2>&1 || die "$1 not found and no apt-get to install $2 with"
  stage "installing $2"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null ||
    { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; } ||
    die "could not install $2"
  command -v "$1" >/dev/null 2>&1 || die "$2 is installed but $1 is not on PATH"
}
need buildah buildah

export STORAGE_DRIVER=${BUILDAH_STORAGE_DRIVER:-vfs}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
bh() { buildah --storage-driver "$STORAGE_DRIVER" "$@"; }

certs=/etc/ssl/certs/ca-certificates.crt
[ -r "$certs" ] || die "$certs not found: install Debian's ca-certificates"
zoneinfo="$(go env GOROOT)/lib/time/zoneinfo.zip"
[ -r "$zoneinfo" ] || die "$zoneinfo not found (Go's time zone database)"

ctx=$(mktemp -d)
made_images=()
cleanup() {
  [ "$(type -t cleanup_smoke)" = function ] && cleanup_smoke
  if [ "$ci" = 1 ] && [ ${#made_images[@]} -gt 0 ]; then
    bh rmi "${made_images[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$ctx"
}
trap cleanup EXIT

# With --ci, remove what earlier runs left when they were killed before
# their own clean-up: working containers named tasker-smoke-<pid> and
# images tagged ci-<pid> whose process is gone, then untagged images.
remove_leftovers() {
  local name pid ref
  while read -r name; do
    pid=${name#tasker-smoke-}; pid=${pid%%-*}
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    kill -0 "$pid" 2>/dev/null && continue
    log "removing container $name left by an earlier run"
    bh rm "$name" >/dev/null || true
  done < <(bh containers --format '{{.ContainerName}}' 2>/dev/null | grep '^tasker-smoke-' || true)
  while read -r ref; do
    pid=${ref##*:ci-}
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    kill -0 "$pid" 2>/dev/null && continue
    log "removing image $ref left by an earlier run"
    bh rmi "$ref" >/dev/null || true
  done < <(bh images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep -E '^localhost/tasker(-worker)?:ci-[0-9]+$' || true)
  bh rmi --prune >/dev/null 2>&1 || true
}
[ "$ci" = 1 ] && remove_leftovers
mkdir -p "$ctx/etc/ssl/certs"
cp "$certs" "$ctx/etc/ssl/certs/ca-certificates.crt"
cp "$zoneinfo" "$ctx/zoneinfo.zip"
printf 'root:x:0:0:root:/:/sbin/nologin\ntasker:x:65532:65532:tasker:/:/sbin/nologin\n' > "$ctx/etc/passwd"
printf 'root:x:0:\ntasker:x:65532:\n' > "$ctx/etc/group"

stage "building static binaries ($tag)"
ldflags="-s -w"
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "$ldflags" -o "$ctx/tasker" ./cmd/tasker
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "$ldflags" -o "$ctx/tasker-worker" ./cmd/tasker-worker

for image in tasker tasker-worker; do
  stage "building $image:$tag"
  made_images+=("localhost/$image:$tag")
  bh bud --quiet --format docker --layers=false \
    --build-arg VERSION="$tag" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
    -f "deploy/images/$image.Containerfile" -t "localhost/$image:$tag" "$ctx" >/dev/null
  size=$(bh images --format '{{.Size}}' "localhost/$image:$tag" | head -1)
  log "built localhost/$image:$tag ($size)"
  if [ -n "$archive" ]; then
    mkdir -p "$archive"
    rm -f "$archive/$image.tar"
    bh push "localhost/$image:$tag" "docker-archive:$archive/$image.tar:$image:$tag" >/dev/null
    log "wrote $archive/$image.tar"
  fi
  if [ -n "$push" ]; then
    bh push "localhost/$image:$tag" "docker://$push/$image:$tag"
  fi
done

# Checks the images' metadata: non-root user, entry point, health check.
for image in tasker tasker-worker; do
  user=$(bh inspect --format '{{.Docker.Config.User}}' "localhost/$image:$tag")
  [ "$user" = "65532:65532" ] || die "$image: runs as '$user', want 65532:65532"
  hc=$(bh inspect --format '{{.Docker.Config.Healthcheck.Test}}' "localhost/$image:$tag")
  case "$hc" in *probe*) ;; *) die "$image: no health check ($hc)" ;; esac
done

if [ "$smoke" = 1 ]; then
  db=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
  schema="tasker_image_smoke_$$"
  port=$((20000 + $$ % 10000))
  name="tasker-smoke-$$"
  # Each `buildah run` starts in a session of its own (setsid), so stopping
  # its process group stops the process inside the container too (killing
  # buildah alone leaves it running).
  stop_group() { # <pid>
    [ -n "$1" ] || return 0
    kill -TERM -- "-$1" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.5; done
    kill -KILL -- "-$1" 2>/dev/null || true
  }
  cleanup_smoke() {
    stop_group "${srv_pid:-}"
    stop_group "${wrk_pid:-}"
    [ -n "${ctr:-}" ] && { bh rm "$ctr" >/dev/null 2>&1 || true; }
    [ -n "${wctr:-}" ] && { bh rm "$wctr" >/dev/null 2>&1 || true; }
    psql "$db" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  }
  ctr=$(bh from --name "$name" "localhost/tasker:$tag")

  # Can this machine run a container at all? The image's binary must run
  # on the host (else the image is broken: fail); if it runs there but not
  # inside the container, the machine cannot run containers (no chroot or
  # mount privilege, a seccomp profile): say exactly why and keep the build.
  stage "smoke test: can this machine run a container?"
  if ! out=$(bh run --isolation "$BUILDAH_ISOLATION" --network host --user 65532:65532 "$ctr" -- \
    /usr/local/bin/tasker --help 2>&1 >/dev/null); then
    "$ctx/tasker" --help >/dev/null 2>&1 ||
      die "the tasker binary does not run, on the host either: $out"
    log "SKIPPED the smoke test: this machine cannot run a container (buildah run --isolation $BUILDAH_ISOLATION failed):"
    printf '%s\n' "$out" | sed 's/^/build-images:   /' >&2
    log "the images were built and their metadata checked; run --smoke on a machine that can run containers"
    done_log
    exit 0
  fi

  stage "smoke test: migrate and serve on 127.0.0.1:$port (schema $schema)"
  run_in() { bh run --isolation "$BUILDAH_ISOLATION" --network host --user 65532:65532 \
    --env DATABASE_URL="$db" --env TASKER__DATABASE__SCHEMA="$schema" --env TASKER_ENV=development "$@"; }
  run_in "$ctr" -- /usr/local/bin/tasker migrate up >&2 || die "tasker migrate up failed inside the tasker image"
  setsid buildah --storage-driver "$STORAGE_DRIVER" run --isolation "$BUILDAH_ISOLATION" --network host --user 65532:65532 \
    --env DATABASE_URL="$db" --env TASKER__DATABASE__SCHEMA="$schema" --env TASKER_ENV=development \
    --env TASKER__ORCHESTRATION__WEB__BIND_ADDRESS="127.0.0.1:$port" "$ctr" -- /usr/local/bin/tasker server >"$ctx/server.log" 2>&1 &
  srv_pid=$!
  ok=0
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then ok=1; break; fi
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ "$ok" != 1 ]; then cat "$ctx/server.log" >&2; die "the tasker image did not answer /health/ready"; fi
  stage "/health/ready answered 200 from the tasker image"
  run_in "$ctr" -- /usr/local/bin/tasker probe "http://127.0.0.1:$port/health/ready" ||
    die "the image's health check command failed against a ready server"
  log "the image's health check (tasker probe) passed"
  wport=$((port + 1))
  wctr=$(bh from --name "$name-worker" "localhost/tasker-worker:$tag")
  setsid buildah --storage-driver "$STORAGE_DRIVER" run --isolation "$BUILDAH_ISOLATION" --network host --user 65532:65532 \
    --env DATABASE_URL="$db" --env TASKER__DATABASE__SCHEMA="$schema" --env TASKER_ENV=development \
    --env TASKER__WORKER__WEB__BIND_ADDRESS="127.0.0.1:$wport" "$wctr" -- /usr/local/bin/tasker-worker >"$ctx/worker.log" 2>&1 &
  wrk_pid=$!
  ok=0
  for _ in $(seq 1 60); do
    if run_in "$wctr" -- /usr/local/bin/tasker-worker --probe "http://127.0.0.1:$wport/health/ready" >/dev/null 2>&1; then ok=1; break; fi
    kill -0 "$wrk_pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ "$ok" != 1 ]; then cat "$ctx/worker.log" >&2; die "the tasker-worker image did not become ready"; fi
  stage "the tasker-worker image became ready (its health check, tasker-worker --probe, passed)"
fi
done_log
