rev: writes its input backwards

Cell 0 stays 0 and marks the start of the input; a zero byte in the
input ends it as the end of input does

>,[>,]      read bytes into cells 1 and on until one is 0
<[.<]       walk back to cell 0 writing each
