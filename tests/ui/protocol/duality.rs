// After `Login` the server chooses between `Ready` and `Anonymous`; the client cannot
// know which, and may send `Upload` (allowed in `Ready`) to a server in `Anonymous`.
asyncore_runtime::protocol! {
    mod files {
        protocol files
        framing line "\r\n" max 1KiB
        client Login = "LOGIN" user:word
        client Upload = "UPLOAD" name:word
        client Quit = "QUIT"
        state Anonymous initial { Login -> Ready | Anonymous  Quit -> close }
        state Ready { Login -> Ready | Anonymous  Upload -> Ready  Quit -> close }
    }
}

fn main() {}
