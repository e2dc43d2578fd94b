primes: the primes below 256 by trial division; computed and printed
8 times over with one line each time
It is the loop heavy program that the bf benchmark script times

Every n from 2 to 255 is divided by every d from 2 to n minus 1 with the
classic divmod loop; n is prime if no remainder was zero

Cells: 0 rounds left; 1 n values left; 2 n; 3 prime flag; 4 temp;
5 divisors left; 8 to 14 divmod of n by d; 16 to 22 divmod for printing;
24 to 28 digits and flags

++++++++                                 rounds
[                                        for each round
  >>>>+++++++++++++++[-<<<++++++++++++++++>>>]<<<++++++++++++++>++ n values left; n is 2
  <[                                     for each n
    >>+                                  prime flag
    <[->>>>>>+<<<<+<<]>>[-<<+>>]         dividend
    >>>>>>++                             first divisor
    <<<<<<<<[->>>+<+<<]>>[-<<+>>]>--     divisors left
    [                                    for each divisor
      >>>[->+>-[>+>>]>[+[-<+>]>+>>]<<<<<<] divmod
      >>>>[-]                            drop the quotient
      <<<[-<+>]                          dividend back
      <<<<<+                             temp is one unless the remainder is nonzero
      >>>>>>>[                           if the remainder is nonzero
        [-<+>]                           divisor back
        <<<<<<<->>>>>>>
      ]
      <<<<<<<[                           remainder zero so not prime
        <[-]>[-]
      ]
      >>>>>>+                            next divisor
      <<<<<-
    ]
    >>>[-]>>[-]                          clear the work area
    <<<<<<<[                             print n if prime
      <[->>>>>>>>>>>>>>+<<<<<<<<<<<<+<<]>>[-<<+>>]>>>>>>>>>>>>>>++++++++++<<[->+>-[>+>>]>[+[-<+>]>+>>]<<<<<<] n divmod 10
      >[-]>[-]>[->>>>>+<<<<<]>[-<<<<+>>>>] ones
      <<++++++++++<<[->+>-[>+>>]>[+[-<+>]>+>>]<<<<<<] the rest divmod 10
      >[-]>[-]>[->>>>>>+<<<<<<]>[->>>>>>+<<<<<<] tens and hundreds
      >>>>>>[                            print the hundreds digit if nonzero
        <<<<<<<<<<<<<<<<<<<<<<++++++[->>>>>>>>>>>>>>>>>>>>>>++++++++<<<<<<<<<<<<<<<<<<<<<<]>>>>>>>>>>>>>>>>>>>>>>.[-]>+<
      ]
      <[->>>+<<<<<<<<<<<<<<<<<<<<<<<<+>>>>>>>>>>>>>>>>>>>>>]<<<<<<<<<<<<<<<<<<<<<[->>>>>>>>>>>>>>>>>>>>>+<<<<<<<<<<<<<<<<<<<<<]>>>>>>>>>>>>>>>>>>>>>>>[->+<] print tens if it or hundreds was nonzero
      >[
        <<<<<<<<<<<<<<<<<<<<<<<<++++++[->>>>>>>>>>>>>>>>>>>>>++++++++<<<<<<<<<<<<<<<<<<<<<]>>>>>>>>>>>>>>>>>>>>>.[-]>>>[-]
      ]
      <<<<<<<<<<<<<<<<<<<<<<<<++++++[->>>>>>>>>>>>>>>>>>>>++++++++<<<<<<<<<<<<<<<<<<<<]>>>>>>>>>>>>>>>>>>>>.[-] ones digit
      <<<<<<<<<<<<<<<<<<<<+++++[->>>>>>>>>>>>>>>>>>>>>>>>++++++<<<<<<<<<<<<<<<<<<<<<<<<]>>>>>>>>>>>>>>>>>>>>>>>>++.[-] a space
      <<<<<<<<<<<<<<<<<<<<<<<<<[-]
    ]
    <+<-                                 next n
  ]
  >[-]>>++++++++++.[-]                   newline
  <<<<-
]
