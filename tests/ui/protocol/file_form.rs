// Errors in a description file name the file, the line and the column, and show the line.
asyncore_runtime::protocol!(mod broken = "broken.aproto");

fn main() {}
