# bash completion for wirt (installed as
# $PREFIX/share/bash-completion/completions/wirt).  Commands and options
# come from wirt's own help texts, so they follow the binary being
# completed; everything else completes as a file name.

# The options a help text names (-x or --word after a space, bracket,
# parenthesis, comma or bar).
_wirt_options_in()
{
	grep -oE -- '(^|[][ (,|])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[][ (,|]//' | sort -u
}

_wirt()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local wirt=${COMP_WORDS[0]} cmd=${COMP_WORDS[1]} words

	if ((COMP_CWORD == 1)); then
		words=$("$wirt" --help 2>/dev/null |
			sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
		COMPREPLY=($(compgen -W "$words --help --version" -- "$cur"))
		return
	fi
	case $cmd in
	ctl | console)
		# wirt ctl NAME COMMAND, wirt console NAME: names from wirt ls.
		if ((COMP_CWORD == 2)); then
			words=$("$wirt" ls --output json 2>/dev/null |
				sed -n 's/.*"name": *"\([^"]*\)".*/\1/p')
			COMPREPLY=($(compgen -W "$words" -- "$cur"))
			return
		fi
		if [[ $cmd == ctl ]] && ((COMP_CWORD == 3)); then
			words=$("$wirt" ctl --help 2>/dev/null |
				sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')
			COMPREPLY=($(compgen -W "$words" -- "$cur"))
			return
		fi
		;;
	img)
		if ((COMP_CWORD == 2)); then
			words=$("$wirt" img --help 2>/dev/null |
				sed -n '/^commands:/,/^$/s/^  \([a-z]*\)\( .*\)\{0,1\}$/\1/p')
			COMPREPLY=($(compgen -W "$words" -- "$cur"))
			return
		fi
		case $prev in
		-f | -O | -F)
			COMPREPLY=($(compgen -W "raw qcow2 vmdk vdi" -- "$cur"))
			return ;;
		-t | -T)
			COMPREPLY=($(compgen -W "none writeback unsafe" -- "$cur"))
			return ;;
		--output)
			COMPREPLY=($(compgen -W "human json" -- "$cur"))
			return ;;
		esac
		if [[ $cur == -* ]]; then
			words=$("$wirt" img "${COMP_WORDS[2]}" --help 2>/dev/null | _wirt_options_in)
			COMPREPLY=($(compgen -W "$words" -- "$cur"))
			return
		fi
		;;
	*)
		case $prev in
		-a | --accel)
			COMPREPLY=($(compgen -W "kvm emu auto" -- "$cur"))
			return ;;
		--sandbox)
			COMPREPLY=($(compgen -W "on off" -- "$cur"))
			return ;;
		--console)
			COMPREPLY=($(compgen -W "serial virtio" -- "$cur"))
			return ;;
		--vga)
			COMPREPLY=($(compgen -W "std virtio none" -- "$cur"))
			return ;;
		--tablet)
			COMPREPLY=($(compgen -W "on off" -- "$cur"))
			return ;;
		--cloud-init)
			COMPREPLY=($(compgen -W "user-data= meta-data= network-config=" -- "$cur"))
			return ;;
		-f | --firmware)
			COMPREPLY=($(compgen -W "bios uefi uefi,vars=" -- "$cur") $(compgen -f -- "$cur"))
			return ;;
		--display)
			COMPREPLY=($(compgen -W "vnc=127.0.0.1:1 web=127.0.0.1:6080 none" -- "$cur"))
			return ;;
		--runas)
			COMPREPLY=($(compgen -u -- "$cur"))
			return ;;
		--boot)
			COMPREPLY=($(compgen -W "order=c order=d order=cd order=dc" -- "$cur"))
			return ;;
		esac
		if [[ $cur == -* ]]; then
			words=$("$wirt" "$cmd" --help 2>/dev/null | _wirt_options_in)
			COMPREPLY=($(compgen -W "$words" -- "$cur"))
			return
		fi
		;;
	esac
	COMPREPLY=($(compgen -f -- "$cur"))
}

complete -o filenames -F _wirt wirt
