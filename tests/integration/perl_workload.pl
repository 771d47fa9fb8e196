#!/usr/bin/perl
# A deterministic perl workload for compare.sh: hashes, regexes, sort, sprintf and string
# building. Hash iteration order is random per process, so every walk over keys is sorted.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my $x = 42;
sub rnd { $x = ($x * 1103515245 + 12345) % 2147483648; return $x >> 8; }

# Hashes: build, count, delete, nest.
my (%count, %pos, %nested);
for my $i (1 .. 60000) {
  my $key = sprintf("k%05d", rnd() % 20000);
  $count{$key}++;
  push @{ $pos{$key} }, $i if $i % 7 == 0;
  $nested{ substr($key, 0, 3) }{$key} = $i;
}
delete @count{ grep { /7$/ } keys %count };
my @keys = sort keys %count;
my $sum = 0;
$sum += $count{$_} for @keys;
printf "hash: %d keys, %d counted, first %s, last %s\n", scalar @keys, $sum, $keys[0], $keys[-1];
printf "positions: %d lists, %d entries\n", scalar(keys %pos), scalar(map { @$_ } values %pos);
printf "nested: %s\n", join(",", map { "$_=" . scalar(keys %{ $nested{$_} }) } sort keys %nested);

# Sorting: numeric, string, custom multi-key, Schwartzian transform.
my @nums = map { rnd() % 100000 } 1 .. 50000;
my @asc = sort { $a <=> $b } @nums;
my @desc = sort { $b <=> $a } @nums;
printf "sort: min %d max %d median %d\n", $asc[0], $desc[0], $asc[25000];
my @by_count = (sort { $count{$b} <=> $count{$a} or $a cmp $b } @keys)[0 .. 4];
print "by count: @by_count\n";
my @st = map { $_->[1] } sort { $a->[0] <=> $b->[0] or $a->[1] cmp $b->[1] }
  map { [length($_) * 1000 + (ord($_) % 10), $_] } map { "w" x ($_ % 5) . $_ } 1 .. 20000;
print "schwartzian: @st[0..3] ... $st[-1]\n";

# Regexes: matching, captures, substitution, split, tr.
my $text = join(" ", map { sprintf("item-%d:%s@%03d", $_, ("abc", "xyz", "foo")[$_ % 3], $_ % 1000) } 1 .. 30000);
my @caps = $text =~ /item-(\d+):foo@(\d{3})/g;
printf "regex: %d captures, last %s\n", scalar @caps, $caps[-1];
(my $sub = $text) =~ s/(\w+)@(\d+)/$2#\U$1/g;
printf "substitute: %d chars, md5 %s\n", length $sub, md5_hex($sub);
my @fields = split /[\s:@-]+/, $text;
printf "split: %d fields\n", scalar @fields;
(my $tr = $text) =~ tr/a-z/A-Z/;
my $digits = ($text =~ tr/0-9//);
printf "tr: %s, %d digits\n", substr($tr, 0, 30), $digits;
my %words;
$words{$1}++ while $text =~ /\b([a-z]{3})\b/g;
print "words: ", join(" ", map { "$_=$words{$_}" } sort keys %words), "\n";

# String building: concatenation, join, repetition, sprintf, pack.
my $s = "";
$s .= sprintf("%08x|%-6s|%.3f\n", $_ * 2654435761 % 4294967296, "r$_", $_ / 7) for 1 .. 20000;
printf "built: %d chars, md5 %s\n", length $s, md5_hex($s);
my @rows = map { join(",", map { $_ * $_ } 1 .. ($_ % 20)) } 1 .. 5000;
my $csv = join("\n", @rows);
printf "csv: %d chars, %d lines\n", length $csv, scalar(() = $csv =~ /\n/g) + 1;
my $packed = pack("N*", @nums[0 .. 9999]);
my @unpacked = unpack("N*", $packed);
printf "pack: %d bytes, roundtrip %s\n", length $packed, "@unpacked[0..9999]" eq "@nums[0..9999]" ? "ok" : "BAD";
my $rev = reverse $s;
printf "reverse: %s\n", md5_hex($rev);
print "done\n";
