//! A moto S3 server (`pip install 'moto[server]'`) on a free loopback port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::describe;

/// boto3 commands against the server: `mb BUCKET [public]`, `put-dir BUCKET
/// PREFIX DIR [public]`, `put BUCKET KEY FILE`, `rm BUCKET KEY`.
const S3_CLIENT: &str = r#"
import os, sys, boto3
from botocore.config import Config
endpoint, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test",
                  config=Config(s3={"addressing_style": "path"}))
public = args[-1] == "public"
acl = {"ACL": "public-read"} if public else {}
if cmd == "mb":
    s3.create_bucket(Bucket=args[0], **acl)
elif cmd == "put-dir":
    bucket, prefix, root = args[:3]
    for d, _, files in os.walk(root):
        for f in files:
            path = os.path.join(d, f)
            key = prefix + "/" + os.path.relpath(path, root)
            s3.upload_file(path, bucket, key, ExtraArgs=acl or None)
elif cmd == "put":
    s3.upload_file(args[2], args[0], args[1], ExtraArgs=acl or None)
elif cmd == "rm":
    s3.delete_object(Bucket=args[0], Key=args[1])
else:
    sys.exit("unknown command " + cmd)
"#;

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto, or prints a notice and returns `None` when it is not installed.
    pub fn start() -> Option<Moto> {
        let probe = Command::new("python3").args(["-c", "import moto.server, boto3, flask"]).output();
        match probe {
            Ok(out) if out.status.success() => {}
            _ => {
                crate::missing_tool("moto is not installed (pip install 'moto[server]'); skipping this S3 test");
                return None;
            }
        }
        // A port the OS says is free; moto binds it right after.
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto");
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {addr} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    pub fn s3(&self, args: &[&str]) {
        let out = Command::new("python3")
            .args(["-c", S3_CLIENT, &self.endpoint])
            .args(args)
            .output()
            .expect("run the boto3 client");
        assert!(out.status.success(), "boto3 {args:?}: {}", describe(&out));
    }

    pub fn upload_lake(&self, bucket: &str, prefix: &str, dir: &Path, public: bool) {
        let mut args = vec!["put-dir", bucket, prefix, dir.to_str().unwrap()];
        if public {
            args.push("public");
        }
        self.s3(&args);
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}
