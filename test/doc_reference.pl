#!/usr/bin/perl
# Every public function, view and setting has a reference entry in doc/.
#
# Public: the functions and views the install script's pieces
# (src/sql/schema/*.sql, src/sql/code/*.sql) create whose names do not start with "_", and the
# settings the library defines (every "imagestream.NAME" string literal
# in src/*.c).  An entry is a line of doc/*.md that starts, after list,
# table or heading marks, with the name in backquotes: `name(` for a
# function (its signature), `name` for a view; a setting's entry is its
# row in doc/settings.md, | `imagestream.name` |.  A mention in passing
# does not count: a reader looking a name up finds where it is defined.
#
# usage: perl test/doc_reference.pl [SOURCE_DIR]; prints what has no entry
# and exits 1, or says how many entries it checked.
use strict;
use warnings;

my $dir = shift // '.';

sub slurp
{
	my ($path) = @_;
	open(my $f, '<', $path) or die "cannot read $path: $!";
	local $/;
	return scalar <$f>;
}

my (%functions, %views, %settings);
for my $sql (glob("$dir/src/sql/schema/*.sql $dir/src/sql/code/*.sql"))
{
	my $text = slurp($sql);
	$text =~ s/--[^\n]*//g;
	while ($text =~ /\bCREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|VIEW)\s+(?:imagestream\.)?([a-z][a-z0-9_]*)/gi)
	{
		my ($kind, $name) = (uc($1), $2);
		($kind eq 'VIEW' ? \%views : \%functions)->{$name} = 1;
	}
}
for my $c (glob("$dir/src/*.c $dir/src/*/*.c"))
{
	my $text = slurp($c);
	$settings{$1} = 1 while $text =~ /"imagestream\.([a-z][a-z0-9_]*)"/g;
}
die "no function, view or setting found under $dir/src" unless %functions && %views && %settings;

my @doc = map { split /\n/, slurp($_) } glob("$dir/doc/*.md");
my @settings_doc = split /\n/, slurp("$dir/doc/settings.md");
my $start = qr/^\s*(?:[-*|#]+\s*)*/;
my @missing;
for my $f (sort keys %functions)
{
	push @missing, "function $f: no line of doc/*.md starts with `$f("
	  unless grep { /$start`\Q$f\E\(/ } @doc;
}
for my $v (sort keys %views)
{
	push @missing, "view $v: no line of doc/*.md starts with `$v`"
	  unless grep { /$start`(?:imagestream\.)?\Q$v\E`/ } @doc;
}
for my $s (sort keys %settings)
{
	push @missing, "setting imagestream.$s: no row | `imagestream.$s` | in doc/settings.md"
	  unless grep { /^\|\s*`imagestream\.\Q$s\E`\s*\|/ } @settings_doc;
}
if (@missing)
{
	print "$_\n" for @missing;
	exit 1;
}
printf "doc/ has a reference entry for each of %d functions, %d views and %d settings\n",
  scalar(keys %functions), scalar(keys %views), scalar(keys %settings);
exit 0;
