# Shared by the guest builders (build-guest.sh, build-debian-image.sh),
# sourced with `.`: messages prefixed with $name, the --force and --help
# arguments (sets $force; --help prints $usage), and the repository root
# ($script_path, $repo_root; the working directory becomes the root).

die() {
    echo "$name: error: $*" >&2
    exit 1
}

log() {
    echo "$name: $*" >&2
}

force=0
for arg in "$@"; do
    case "$arg" in
        -f|--force) force=1 ;;
        -h|--help)
            echo "usage: $0 [--force]"
            echo "$usage"
            exit 0 ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done

# Resolve the repository root from the script location (works from any cwd).
script_dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd) || die "cannot locate script directory"
script_path="$script_dir/$(basename -- "$0")"
repo_root=$(CDPATH= cd -- "$script_dir/.." && pwd) || die "cannot locate repository root"
cd "$repo_root"
