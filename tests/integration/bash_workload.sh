#!/usr/bin/env bash
# A deterministic bash workload for compare.sh: arrays, associative arrays, string
# operations, subshells, command substitution and a 20,000-iteration loop.
set -euo pipefail
export LC_ALL=C

declare -a list=()
declare -A count=() last=()
text=""
sum=0
for ((i = 1; i <= 20000; i++)); do
  word="w$(( (i * 7919) % 613 ))"
  list+=("$word")
  count[$word]=$(( ${count[$word]:-0} + 1 ))
  last[$word]=$i
  sum=$(( (sum * 31 + ${#word} + i) % 1000000007 ))
  if (( i % 50 == 0 )); then
    text+="${word^^}-${word:1}|"
  fi
  if (( i % 400 == 0 )); then
    unset 'list[i-400]'  # holes in an indexed array
  fi
done
echo "loop: ${#list[@]} elements, ${#count[@]} distinct, sum $sum, text ${#text} chars"
keys=("${!count[@]}")
mapfile -t sorted < <(printf '%s\n' "${keys[@]}" | sort)
echo "first keys: ${sorted[*]:0:5}"
top=""
for k in "${sorted[@]}"; do
  if (( ${count[$k]} > 32 && ${last[$k]} > 19990 )); then top+="$k=${count[$k]}/${last[$k]} "; fi
done
echo "top: ${top% }"

# String operations.
s="The quick brown fox jumps over the lazy dog"
echo "upper: ${s^^} | lower: ${s,,} | length: ${#s}"
echo "replace: ${s//o/0} | prefix: ${s#The } | suffix: ${s%dog} | sub: ${s:4:11}"
IFS=' ' read -r -a words <<<"$s"
rev=""
for ((i = ${#words[@]} - 1; i >= 0; i--)); do rev+="${words[i]} "; done
echo "reversed words: ${rev% }"
printf -v padded '%-10s|%5d|%x' "${words[1]}" 42 255
echo "printf -v: $padded"
big=""
for ((i = 0; i < 2000; i++)); do big+="chunk$i,"; done
IFS=, read -r -a parts <<<"$big"
echo "big: ${#big} chars, ${#parts[@]} parts, last ${parts[-1]}"

# Subshells and command substitution (each one forks, so a couple of hundred only).
total=0
for ((i = 0; i < 100; i++)); do
  v=$(echo $((i * i)))
  total=$((total + v))
done
echo "command substitution total: $total"
result=$( (declare -A inner=([a]=1 [b]=2); for k in "${!inner[@]}"; do echo "$k${inner[$k]}"; done) | sort | tr -d '\n')
echo "subshell: $result"
( list=(); for ((i = 0; i < 1000; i++)); do list+=("$i"); done; echo "subshell list: ${#list[@]}" )
echo "outer list still: ${#list[@]}"
nested=$(echo "$(echo "$(echo deep)")")
echo "nested: $nested"
lines=$(for ((i = 0; i < 2000; i++)); do echo "line $i"; done | grep -c '7')
echo "pipeline count: $lines"

# Functions, recursion and locals.
fib() { local n=$1; if ((n < 2)); then echo "$n"; else echo $(( $(fib $((n - 1))) + $(fib $((n - 2))) )); fi; }
echo "fib(9): $(fib 9)"
declare -A cache=()
memo() {
  local n=$1
  if ((n < 2)); then r=$n; return; fi
  if [[ -n ${cache[$n]:-} ]]; then r=${cache[$n]}; return; fi
  memo $((n - 1)); local a=$r
  memo $((n - 2)); r=$((a + r))
  cache[$n]=$r
}
memo 80
echo "memo fib(80): $r, cache ${#cache[@]}"
echo done
