#!/usr/bin/env perl
# test/sqlcheck/spi_marker.pl — every SPI call of perfopt's C code that
# takes SQL text must pass text starting with the /* perfopt */ marker:
# perfopt_sqlcheck's hook checks only marked statements, so an unmarked one
# would go unchecked.
#
# A static, grep-level check.  The SQL argument is followed back to where
# the text starts: a string literal, psprintf()'s format, either branch of
# a ?:, a variable (its assignments, snprintf() or first
# appendStringInfo*() in the same function), the return statements of a
# function of the same file, or, for a wrapper's parameter, the argument
# every caller passes.  Calls that take a prepared plan (SPI_execute_plan,
# SPI_cursor_open, ...) carry SQL that went through SPI_prepare*, which is
# checked.  Anything it cannot follow fails: write it so it can.
#   perl test/sqlcheck/spi_marker.pl [directory or file ...]   (default: src)
# Prints each call site it checked with its verdict when -v is given; exits
# 1 when any call site is not shown to be marked.
use strict;
use warnings;
use File::Find;

my $verbose = @ARGV && $ARGV[0] eq '-v' ? shift @ARGV : 0;
my @roots = @ARGV ? @ARGV : ('src');
my $MARKER = '/* perfopt */';

# SPI functions that take SQL text, and the 0-based position of the text
my %SQL_ARG = (
	SPI_exec => 0,
	SPI_execute => 0,
	SPI_execute_extended => 0,
	SPI_execute_with_args => 0,
	SPI_prepare => 0,
	SPI_prepare_cursor => 0,
	SPI_prepare_extended => 0,
	SPI_prepare_params => 0,
	SPI_cursor_open_with_args => 1,
	SPI_cursor_parse_open => 1,);
# SPI functions that take a plan made by SPI_prepare*
my %PLAN_ARG = map { $_ => 1 } qw(SPI_execp SPI_execute_plan SPI_execute_plan_extended
  SPI_execute_plan_with_paramlist SPI_execute_snapshot SPI_cursor_open
  SPI_cursor_open_with_paramlist);

my @files;
for my $root (@roots)
{
	if (-f $root) { push @files, $root; next; }
	find(sub { push @files, $File::Find::name if /\.c$/ }, $root);
}
@files = sort @files;

# ---- reading C: comments blanked, functions found ----

# the source with comments replaced by blanks (newlines kept), literals kept
sub strip_comments
{
	my ($s) = @_;
	my $out = '';
	my $i = 0;
	my $n = length $s;
	while ($i < $n)
	{
		my $c = substr($s, $i, 1);
		my $two = substr($s, $i, 2);
		if ($two eq '/*')
		{
			my $end = index($s, '*/', $i + 2);
			$end = $n - 2 if $end < 0;
			(my $blank = substr($s, $i, $end + 2 - $i)) =~ s/[^\n]/ /g;
			$out .= $blank;
			$i = $end + 2;
		}
		elsif ($two eq '//')
		{
			my $end = index($s, "\n", $i);
			$end = $n if $end < 0;
			$out .= ' ' x ($end - $i);
			$i = $end;
		}
		elsif ($c eq '"' || $c eq "'")
		{
			my $j = $i + 1;
			while ($j < $n && substr($s, $j, 1) ne $c)
			{
				$j++ if substr($s, $j, 1) eq '\\';
				$j++;
			}
			$out .= substr($s, $i, $j + 1 - $i);
			$i = $j + 1;
		}
		else
		{
			$out .= $c;
			$i++;
		}
	}
	return $out;
}

# the index just past the ")" matching the "(" at $open
sub close_paren
{
	my ($s, $open) = @_;
	my $depth = 0;
	my $n = length $s;
	for (my $i = $open; $i < $n; $i++)
	{
		my $c = substr($s, $i, 1);
		if ($c eq '"' || $c eq "'")
		{
			my $j = $i + 1;
			while ($j < $n && substr($s, $j, 1) ne $c)
			{
				$j++ if substr($s, $j, 1) eq '\\';
				$j++;
			}
			$i = $j;
		}
		elsif ($c eq '(' || $c eq '[' || $c eq '{') { $depth++; }
		elsif ($c eq ')' || $c eq ']' || $c eq '}')
		{
			$depth--;
			return $i + 1 if $depth == 0;
		}
	}
	return $n;
}

# split a text on the given character where it is outside (), [], {} and literals
sub split_top
{
	my ($s, $sep) = @_;
	my @parts;
	my $depth = 0;
	my $cur = '';
	my $n = length $s;
	for (my $i = 0; $i < $n; $i++)
	{
		my $c = substr($s, $i, 1);
		if ($c eq '"' || $c eq "'")
		{
			my $j = $i + 1;
			while ($j < $n && substr($s, $j, 1) ne $c)
			{
				$j++ if substr($s, $j, 1) eq '\\';
				$j++;
			}
			$cur .= substr($s, $i, $j + 1 - $i);
			$i = $j;
			next;
		}
		$depth++ if $c =~ /[(\[{]/;
		$depth-- if $c =~ /[)\]}]/;
		if ($c eq $sep && $depth == 0)
		{
			push @parts, $cur;
			$cur = '';
			next;
		}
		$cur .= $c;
	}
	push @parts, $cur;
	s/^\s+|\s+$//g for @parts;
	return @parts;
}

# the arguments of the call whose "(" is at $open
sub call_args
{
	my ($s, $open) = @_;
	my $close = close_paren($s, $open);
	my $inner = substr($s, $open + 1, $close - $open - 2);
	return $inner =~ /\S/ ? split_top($inner, ',') : ();
}

# functions: name => [ { file, params => [names], body, header_line } ]
my %functions;
my %source;    # file => stripped text
my %defines;   # file => { NAME => text }

for my $file (@files)
{
	open my $fh, '<', $file or die "$file: $!";
	local $/;
	my $code = strip_comments(<$fh>);
	close $fh;
	$source{$file} = $code;
	while ($code =~ /^#define\s+(\w+)\s+(.*(?:\\\n.*)*)$/mg)
	{
		(my $text = $2) =~ s/\\\n/ /g;
		$defines{$file}{$1} = $text;
	}

	# a definition: a name at the start of a line, its parameters, then "{"
	while ($code =~ /^(\w+)\s*\(/mg)
	{
		my $name = $1;
		my $start = $-[0];
		my $open = $+[0] - 1;
		my $close = close_paren($code, $open);
		next unless substr($code, $close) =~ /^\s*\{/;
		my $brace = index($code, '{', $close);
		my $end = close_paren($code, $brace);
		my @params = map { /(\w+)\s*(?:\[[^\]]*\])?\s*$/ ? $1 : '' }
		  split_top(substr($code, $open + 1, $close - $open - 2), ',');
		my $line = 1 + (substr($code, 0, $brace) =~ tr/\n//);
		push @{ $functions{$name} },
		  {
			name => $name,
			file => $file,
			params => \@params,
			body => substr($code, $brace, $end - $brace),
			line => $line    # of the body's "{"
		  };
		pos($code) = $end;
	}
}

# ---- following the SQL text back ----

# ($ok, $why): does the expression $e, inside function $fn, start with the marker?
sub check_expr
{
	my ($e, $fn, $depth) = @_;
	return (0, "too deep to follow: $e") if $depth > 6;
	$e =~ s/^\s+|\s+$//g;
	$e =~ s/^\((?:const\s+)?char\s*\*\)\s*//;
	# (expression): only when the two parentheses belong together
	$e = substr($e, 1, -1) while $e =~ /^\(/ && close_paren($e, 0) == length $e;

	# cond ? a : b
	my @q = split_top($e, '?');
	if (@q == 2)
	{
		my @branches = split_top($q[1], ':');
		return (0, "cannot split ?: in $e") unless @branches == 2;
		for my $b (@branches)
		{
			my ($ok, $why) = check_expr($b, $fn, $depth + 1);
			return ($ok, $why) unless $ok;
		}
		return (1, 'both branches marked');
	}
	if ($e =~ /^"((?:[^"\\]|\\.)*)"/s)
	{
		return (1, 'a marked literal') if index($1, $MARKER) == 0;
		return (0, "a literal without the marker: \"" . substr($1, 0, 60) . "\"");
	}
	if ($e =~ /^(psprintf|pstrdup)\s*\(/)
	{
		my @args = call_args($e, $+[0] - 1);
		return check_expr($args[0], $fn, $depth + 1);
	}
	# a macro of the file, alone or followed by more literals
	if ($e =~ /^(\w+)\b/ && defined $defines{ $fn->{file} }{$1})
	{
		return check_expr($defines{ $fn->{file} }{$1}, $fn, $depth + 1);
	}
	if ($e =~ /^&?(\w+)(?:\.data)?$/)
	{
		return check_var($1, $fn, $depth + 1);
	}
	if ($e =~ /^(\w+)\s*\(/ && $functions{$1})
	{
		my ($callee) = grep { $_->{file} eq $fn->{file} } @{ $functions{$1} };
		return (0, "$1() is not defined in $fn->{file}") unless $callee;
		my @returns;
		while ($callee->{body} =~ /\breturn\s+([^;]+);/g) { push @returns, $1; }
		return (0, "$1() returns nothing to follow") unless @returns;
		for my $r (@returns)
		{
			my ($ok, $why) = check_expr($r, $callee, $depth + 1);
			return ($ok, "$callee->{name}(): $why") unless $ok;
		}
		return (1, "what $callee->{name}() returns is marked");
	}
	return (0, "cannot follow: $e");
}

# where variable $v of function $fn gets its text
sub check_var
{
	my ($v, $fn, $depth) = @_;
	my $body = $fn->{body};
	my @sources;
	while ($body =~ /(?<![.\w>])\Q$v\E\s*=(?!=)\s*/g)
	{
		my $start = $+[0];
		my $rest = substr($body, $start);
		my ($rhs) = split_top($rest, ';');
		push @sources, $rhs unless $rhs eq 'NULL';
	}
	while ($body =~ /\bsnprintf\s*\(\s*\Q$v\E\s*,/g)
	{
		my @args = call_args($body, index($body, '(', $-[0]));
		push @sources, $args[2];
	}
	if ($body =~ /\bappendStringInfo(?:String)?\s*\(\s*&\Q$v\E\s*,/)
	{
		my @args = call_args($body, index($body, '(', $-[0]));
		push @sources, $args[1];
	}
	for my $s (@sources)
	{
		my ($ok, $why) = check_expr($s, $fn, $depth);
		return (0, "$v: $why") unless $ok;
	}
	return (1, "$v is marked wherever it is set") if @sources;

	# a parameter: what every caller passes
	my ($pos) = grep { $fn->{params}[$_] eq $v } 0 .. $#{ $fn->{params} };
	return (0, "cannot tell where $v gets its text") unless defined $pos;
	my $callers = 0;
	for my $caller (map { @$_ } values %functions)
	{
		my $b = $caller->{body};
		while ($b =~ /(?<![\w.>])\Q$fn->{name}\E\s*\(/g)
		{
			my @args = call_args($b, $+[0] - 1);
			my ($ok, $why) = check_expr($args[$pos], $caller, $depth);
			return (0, "$fn->{name}() called from $caller->{name}(): $why") unless $ok;
			$callers++;
			pos($b) = $+[0];
		}
	}
	return (0, "$v is a parameter of $fn->{name}(), which nobody calls") unless $callers;
	return (1, "all $callers call(s) of $fn->{name}() pass marked text");
}

# ---- every SPI call ----

my ($checked, $bad) = (0, 0);
for my $fn (sort { $a->{file} cmp $b->{file} || $a->{line} <=> $b->{line} } map { @$_ } values %functions)
{
	my $body = $fn->{body};
	while ($body =~ /\b(SPI_\w+)\s*\(/g)
	{
		my $spi = $1;
		my $open = $+[0] - 1;
		my $line = $fn->{line} + (substr($body, 0, $open) =~ tr/\n//);
		my $where = "$fn->{file}:$line $fn->{name}(): $spi";
		if ($PLAN_ARG{$spi})
		{
			print "ok   $where (takes a prepared plan)\n" if $verbose;
			next;
		}
		next unless exists $SQL_ARG{$spi};
		$checked++;
		my @args = call_args($body, $open);
		my ($ok, $why) = check_expr($args[ $SQL_ARG{$spi} ] // '', $fn, 0);
		if ($ok)
		{
			print "ok   $where ($why)\n" if $verbose;
		}
		else
		{
			print "FAIL $where: $why\n";
			$bad++;
		}
	}
}
# a call outside any function found means this script missed a definition
for my $file (@files)
{
	my $outside = $source{$file};
	for my $fn (grep { $_->{file} eq $file } map { @$_ } values %functions)
	{
		my $i = index($outside, $fn->{body});
		substr($outside, $i, length $fn->{body}) = ' ' x length $fn->{body} if $i >= 0;
	}
	while ($outside =~ /\b(SPI_\w+)\s*\(/g)
	{
		next unless exists $SQL_ARG{$1};
		print "FAIL $file: a call of $1 outside any function this script recognizes\n";
		$bad++;
	}
}
print "spi_marker: $checked SPI call(s) taking SQL text, $bad not shown to carry $MARKER\n";
exit($bad ? 1 : 0);
