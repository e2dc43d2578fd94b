hello: prints Hello comma World and a newline

Four cells get 70 and 100 and 30 and 10 from ten rounds of a loop
++++++++++[>+++++++>++++++++++>+++>+<<<<-]

>++.                H is 72
>+.                 e is 101
+++++++..           l is 108 twice
+++.                o is 111
>++++++++++++++.    comma is 44
------------.       space is 32
<<+++++++++++++++.  W is 87
>.                  o
+++.                r is 114
------.             l
--------.           d is 100
>+.                 exclamation mark is 33
>.                  newline
